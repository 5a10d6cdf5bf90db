// Model management with the official JavaScript library: node models.mjs URL DIR GGUF KIND
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { client, collect, runSteps } from './steps.mjs'

const [url, , ggufPath, kind] = process.argv.slice(2)
const ollama = client(url)
const names = (list) => list.models.map((m) => m.model)

await runSteps({
  list: async () => (await ollama.list()).models,
  show: async () => await ollama.show({ model: 'llama3.2' }),
  showMissing: async () => await ollama.show({ model: 'nope' }),
  pull: async () => {
    const progress = await collect(await ollama.pull({ model: 'smollm2:135m', stream: true }))
    return { progress, listed: names(await ollama.list()), show: await ollama.show({ model: 'smollm2:135m' }) }
  },
  pullAgain: async () => await collect(await ollama.pull({ model: 'smollm2:135m', stream: true })),
  createWithSystem: async () => {
    const model = `pirate-js-${kind}`
    const progress = await collect(
      await ollama.create({ model, from: 'llama3.2', system: 'You are a pirate.', stream: true }),
    )
    return { progress, listed: names(await ollama.list()), show: await ollama.show({ model }) }
  },
  createFromBlob: async () => {
    const bytes = await readFile(ggufPath)
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex')
    const before = (await fetch(`${url}/api/blobs/${digest}`, { method: 'HEAD' })).status
    const posted = (await fetch(`${url}/api/blobs/${digest}`, { method: 'POST', body: bytes })).status
    const after = (await fetch(`${url}/api/blobs/${digest}`, { method: 'HEAD' })).status
    const model = `tiny-js-${kind}`
    const done = await ollama.create({ model, files: { 'tiny.gguf': digest } })
    return { before, posted, after, done, show: await ollama.show({ model }) }
  },
  copyDelete: async () => {
    const model = `copy-js-${kind}:v1`
    const copied = await ollama.copy({ source: 'llama3.2', destination: model })
    const afterCopy = (await ollama.list()).models
    const shown = await ollama.show({ model })
    const deleted = await ollama.delete({ model })
    const afterDelete = names(await ollama.list())
    let showAfter = null
    try {
      await ollama.show({ model })
    } catch (error) {
      showAfter = error.status_code
    }
    return { copied, afterCopy, shown: shown.details, deleted, afterDelete, showAfter }
  },
  ps: async () => {
    await ollama.generate({ model: 'qwen2.5:0.5b', prompt: 'hi', keep_alive: '10m' })
    return (await ollama.ps()).models
  },
})
