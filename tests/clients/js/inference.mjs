// Inference with the official JavaScript library: node inference.mjs URL
import { client, collect, runSteps } from './steps.mjs'

const [url] = process.argv.slice(2)
const ollama = client(url)
const question = [{ role: 'user', content: 'Why is the sky blue?' }]
const add = {
  type: 'function',
  function: {
    name: 'add',
    description: 'Add two integers',
    parameters: {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'],
    },
  },
}
const recipe = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    servings: { type: 'integer', minimum: 2 },
    steps: { type: 'array', items: { type: 'string' }, minItems: 2 },
    course: { enum: ['starter', 'main', 'dessert'] },
  },
  required: ['name', 'servings', 'steps', 'course'],
}

await runSteps({
  generate: async () => await ollama.generate({ model: 'llama3.2', prompt: 'Why is the sky blue?' }),
  generateStream: async () =>
    await collect(await ollama.generate({ model: 'llama3.2', prompt: 'Why is the sky blue?', stream: true })),
  chat: async () => await ollama.chat({ model: 'llama3.2', messages: question }),
  chatStream: async () => await collect(await ollama.chat({ model: 'llama3.2', messages: question, stream: true })),
  embed: async () => await ollama.embed({ model: 'all-minilm', input: ['first', 'second'] }),
  embeddings: async () => await ollama.embeddings({ model: 'all-minilm', prompt: 'first' }),
  formatJson: async () =>
    (await ollama.chat({ model: 'llama3.2', messages: question, format: 'json' })).message.content,
  formatSchema: async () =>
    (await ollama.chat({ model: 'llama3.2', messages: question, format: recipe })).message.content,
  formatSchemaStream: async () =>
    (await collect(await ollama.generate({ model: 'llama3.2', prompt: 'A recipe', format: recipe, stream: true })))
      .map((p) => p.response)
      .join(''),
  toolsLoop: async () => {
    const messages = [{ role: 'user', content: 'Use add on 19 and 23' }]
    const first = await ollama.chat({ model: 'llama3.2', messages, tools: [add] })
    messages.push(first.message)
    for (const call of first.message.tool_calls ?? []) {
      const { a, b } = call.function.arguments
      messages.push({ role: 'tool', content: String(a + b), tool_name: call.function.name })
    }
    const final = await ollama.chat({ model: 'llama3.2', messages, tools: [add] })
    return { calls: first.message.tool_calls ?? [], final: final.message }
  },
  toolsStream: async () =>
    (await collect(await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Use add on 1 and 2' }], tools: [add], stream: true })))
      .flatMap((p) => p.message.tool_calls ?? []),
  think: async () => await ollama.chat({ model: 'deepseek-r1:1.5b', messages: question, think: true }),
  thinkOff: async () => await ollama.chat({ model: 'deepseek-r1:1.5b', messages: question, think: false }),
  thinkStream: async () =>
    (await collect(await ollama.generate({ model: 'deepseek-r1:1.5b', prompt: 'Why?', think: 'high', stream: true })))
      .map((p) => p.thinking ?? '')
      .join(''),
  thinkRefused: async () => await ollama.chat({ model: 'llama3.2', messages: question, think: true }),
})
