// Runs named steps against one Ollama URL with the official JavaScript library
// and prints {name: {value} | {error, status}} as JSON: pytest asserts on it.
import { Ollama } from 'ollama'

export function client(url) {
  return new Ollama({ host: url })
}

export async function runSteps(steps) {
  const results = {}
  for (const [name, step] of Object.entries(steps)) {
    try {
      results[name] = { value: await step() }
    } catch (error) {
      results[name] = { error: String(error.message ?? error), status: error.status_code ?? null }
    }
  }
  process.stdout.write(JSON.stringify(results))
}

export async function collect(iterator) {
  const parts = []
  for await (const part of iterator) parts.push(part)
  return parts
}
