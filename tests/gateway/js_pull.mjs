// One streamed pull with the official JavaScript library (npm `ollama`):
// node js_pull.mjs <url> <model> prints the progress parts as a JSON list.
import { Ollama } from 'ollama'

const [url, model] = process.argv.slice(2)
const parts = []
for await (const part of await new Ollama({ host: url }).pull({ model, stream: true })) {
  parts.push(part)
}
process.stdout.write(JSON.stringify(parts))
