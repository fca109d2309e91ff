/**
 * Code objects panel: the registry of every connected peer (name, version, size, short id), a Run
 * button per code object, and a small editor to publish your own module.
 *
 * Run convention (shown in the panel): the module runs in an isolated worker (`peer.code.run`), and
 * the panel calls its `default` export if that is a function, else `main`, else its first function
 * export (alphabetically: module namespaces sort their names), with no arguments. The result, or
 * the error's code and message, appears under the row. The Node peer's sample exports `run()`.
 *
 * Registries refresh when a peer joins or leaves, when a peer announces a publish (a
 * `{ kind: 'code-published' }` message, which this panel also sends), and with the Refresh button.
 *
 * Hooks for tests: `[data-peer-registry=<peer id>]` per peer, `[data-code-id=<id>]` per row with
 * `[data-action=run]`, `[data-run-result]` (with `data-state` = running | ok | error),
 * `[data-action=refresh]`, `[data-publish-source]`, `[data-publish-name]`, `[data-publish-status]`.
 */
import { isPeerjectError } from 'peerject'
import type { CodeMetadata, Peer, Room, RunningCode } from 'peerject'
import { labelOf, onLabels, shortId } from './labels.js'

/** What the demo's Run button may wait for: loading and the call. */
const RUN_TIMEOUT_MS = 10_000

const EXAMPLE = `// Exports run() → the panel's Run button calls it.
export function run() {
  const now = new Date().toISOString()
  return 'Hello from a page at ' + now
}
`

/** Mounts the panel into `element`; returns its cleanup. */
export function mountCode(room: Room, element: HTMLElement): () => void {
  const panel = el('div', { 'data-code-panel': '' })
  const hint = el('p', { class: 'hint' })
  hint.textContent =
    'Run fetches a code object, checks it against its id, runs it in an isolated worker and calls ' +
    'its default export, else main(), else its first function export, with no arguments. ' +
    "The Node peer's sample exports run() returning a string."
  const refresh = el('button', { type: 'button', 'data-action': 'refresh' })
  refresh.textContent = 'Refresh'
  const registries = el('div', { 'data-registries': '' })
  const publish = publishForm(room, () => {
    void room.broadcast({ kind: 'code-published' }).catch(() => undefined)
  })
  panel.append(hint, refresh, registries, publish.form)
  element.replaceChildren(panel)

  // Each render gets a token so a slow list() answer cannot overwrite a newer render.
  let generation = 0
  const render = (): void => {
    const current = ++generation
    const peers = [...room.peers.values()]
    registries.replaceChildren()
    if (peers.length === 0) {
      const empty = el('p', { 'data-empty': '' })
      empty.textContent = 'No peers yet: code objects of connected peers appear here.'
      registries.append(empty)
    }
    for (const peer of peers) {
      const section = registrySection(peer)
      registries.append(section)
      void fillRegistry(peer, section, () => current === generation, publish.renderMine)
    }
    void publish.renderMine().catch(() => undefined)
  }

  refresh.addEventListener('click', render)
  const offs = [
    onLabels(render),
    room.on('peer', render),
    room.on('leave', render),
    room.on('message', (value) => {
      if (isCodePublished(value)) render()
    }),
  ]
  render()
  return () => {
    generation++
    for (const off of offs) off()
    element.replaceChildren()
  }
}

function registrySection(peer: Peer): HTMLElement {
  const section = el('section', {
    'data-peer-registry': peer.id,
    'aria-label': `Code objects of ${labelOf(peer.id)}`,
  })
  const title = el('h3')
  title.textContent = labelOf(peer.id)
  const state = el('p', { 'data-registry-state': 'loading', role: 'status' })
  state.textContent = 'Loading…'
  section.append(title, state)
  return section
}

async function fillRegistry(
  peer: Peer,
  section: HTMLElement,
  current: () => boolean,
  afterRun: () => Promise<void>,
): Promise<void> {
  const state = section.querySelector('[data-registry-state]') as HTMLElement
  let items: CodeMetadata[]
  try {
    items = await peer.code.list()
  } catch (error) {
    if (!current()) return
    state.dataset.registryState = 'error'
    state.className = 'error'
    state.textContent = describeError(error)
    return
  }
  if (!current()) return
  state.dataset.registryState = 'ready'
  state.textContent = items.length === 0 ? 'Serves no code objects.' : `${items.length} served:`
  if (items.length === 0) return
  const table = el('table')
  const head = el('tr')
  for (const label of ['Name', 'Version', 'Size', 'Id', '']) {
    const cell = el('th', { scope: 'col' })
    cell.textContent = label
    head.append(cell)
  }
  table.append(el('thead'), el('tbody'))
  table.tHead?.append(head)
  // A module another one imports is listed as that one's dependency, without a Run button of its
  // own: run on its own, a dependency's exports are rarely meant to be called without arguments.
  const usedBy = new Map<string, string[]>()
  for (const item of items) {
    for (const dependency of item.dependencies ?? []) {
      usedBy.set(dependency, [...(usedBy.get(dependency) ?? []), item.name])
    }
  }
  for (const item of items.sort((a, b) => a.name.localeCompare(b.name))) {
    table.tBodies[0]?.append(...codeRows(peer, item, usedBy.get(item.id), afterRun))
  }
  section.append(table)
}

/** The row of one code object and the row its result appears in. */
function codeRows(
  peer: Peer,
  item: CodeMetadata,
  usedBy: readonly string[] | undefined,
  afterRun: () => Promise<void>,
): HTMLTableRowElement[] {
  const row = el('tr', { 'data-code-id': item.id, 'data-code-name': item.name })
  const id = el('code', { title: item.id })
  id.textContent = `${shortId(item.id)}…`
  const run = el('button', {
    type: 'button',
    'data-action': 'run',
    'aria-label': `Run ${item.name} from ${labelOf(peer.id)}`,
  })
  run.textContent = 'Run'
  const nameCell = el('td')
  nameCell.textContent = item.name
  if (item.description !== undefined) {
    const description = el('small')
    description.textContent = item.description
    nameCell.append(el('br'), description)
  }
  const cells = [item.version ?? '—', formatSize(item.size)].map((text) => {
    const cell = el('td')
    cell.textContent = text
    return cell
  })
  const idCell = el('td')
  idCell.append(id)
  const runCell = el('td')
  if (usedBy === undefined) runCell.append(run)
  else runCell.textContent = `used by ${usedBy.join(', ')}`
  row.append(nameCell, ...cells, idCell, runCell)

  const resultRow = el('tr', { 'data-result-row': item.id })
  const resultCell = el('td', { colspan: '5' })
  const output = el('output', {
    'data-run-result': '',
    'data-code-id': item.id,
    'aria-live': 'polite',
    'aria-label': `Result of ${item.name}`,
  })
  resultCell.append(output)
  resultRow.append(resultCell)
  run.addEventListener('click', () => {
    run.disabled = true
    void runCode(peer, item, output).finally(() => {
      run.disabled = false
      // A fetched code object is stored here, and served from here too.
      void afterRun().catch(() => undefined)
    })
  })
  return [row, resultRow]
}

/** Runs `item` from `peer` in a worker, calls its entry function, shows the outcome, disposes. */
async function runCode(peer: Peer, item: CodeMetadata, output: HTMLElement): Promise<void> {
  output.dataset.state = 'running'
  output.className = ''
  output.textContent = 'Running…'
  let running: RunningCode<Record<string, () => unknown>> | undefined
  try {
    running = await peer.code.run<Record<string, () => unknown>>(item.id, {
      timeoutMs: RUN_TIMEOUT_MS,
    })
    const entry = entryOf(running.exportTypes)
    if (entry === undefined) {
      throw new Error(
        `${item.name} exports no function to call (exports: ${Object.keys(running.exportTypes).join(', ') || 'none'})`,
      )
    }
    const result: unknown = await (running[entry] as () => Promise<unknown>)()
    output.dataset.state = 'ok'
    output.textContent = `${entry}() → ${formatValue(result)}`
  } catch (error) {
    output.dataset.state = 'error'
    output.className = 'error'
    output.textContent = describeError(error)
  } finally {
    running?.dispose()
  }
}

/** `default` if it is a function, else `main`, else the first function export but `setup`. */
function entryOf(types: Readonly<Record<string, string>>): string | undefined {
  for (const name of ['default', 'main']) if (types[name] === 'function') return name
  return Object.keys(types).find((name) => types[name] === 'function' && name !== 'setup')
}

function publishForm(
  room: Room,
  announce: () => void,
): { form: HTMLFormElement; renderMine: () => Promise<void> } {
  // Inline layout: the demo's stylesheet belongs to the page, this panel brings its own few rules.
  const form = el('form', {
    'data-publish': '',
    'aria-labelledby': 'code-publish-title',
    style: 'display: grid; gap: 0.4rem',
  })
  const title = el('h3', { id: 'code-publish-title' })
  title.textContent = 'Publish your own'
  const sourceLabel = el('label', { for: 'code-publish-source' })
  sourceLabel.textContent = 'ES module source (dependencies: import … from "peerject:<id>")'
  const source = el('textarea', {
    id: 'code-publish-source',
    rows: '7',
    spellcheck: 'false',
    'data-publish-source': '',
    style: 'width: 100%; box-sizing: border-box; font-family: monospace',
  })
  source.value = EXAMPLE
  const nameLabel = el('label')
  nameLabel.textContent = 'Name '
  const name = el('input', { 'data-publish-name': '', value: 'my-module', required: '' })
  nameLabel.append(name)
  const submit = el('button', { type: 'submit', 'data-action': 'publish' })
  submit.textContent = 'Publish'
  const status = el('output', { 'data-publish-status': '', 'aria-live': 'polite' })
  const mineTitle = el('p', { id: 'code-own-title' })
  mineTitle.textContent = 'You serve (published here or fetched from peers):'
  const mine = el('ul', { 'data-own-registry': '', 'aria-labelledby': 'code-own-title' })
  const actions = el('div')
  actions.append(nameLabel, ' ', submit)
  form.append(title, sourceLabel, source, actions, status, mineTitle, mine)

  const renderMine = async (): Promise<void> => {
    const items = await room.code.list()
    mine.replaceChildren(
      ...items.map((item) => {
        const li = el('li', { 'data-code-id': item.id })
        li.textContent = [item.name, item.version, formatSize(item.size), `${shortId(item.id)}…`]
          .filter((part) => part !== undefined)
          .join(' · ')
        return li
      }),
    )
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    submit.disabled = true
    status.className = ''
    status.textContent = 'Publishing…'
    room.code
      .publish(source.value, { name: name.value })
      .then(async (id) => {
        status.dataset.codeId = id
        status.textContent = `Published ${name.value} as ${shortId(id)}…`
        announce()
        await renderMine()
        // Publishing checks the id and the imports, not the code: load it once here, so a syntax
        // error shows now rather than when a peer runs it.
        try {
          ;(await room.code.run(id, { timeoutMs: RUN_TIMEOUT_MS })).dispose()
        } catch (error) {
          status.className = 'error'
          status.textContent = `Published ${name.value} as ${shortId(id)}…, but it fails to load: ${describeError(error)}`
        }
      })
      .catch((error: unknown) => {
        status.className = 'error'
        status.textContent = describeError(error)
      })
      .finally(() => {
        submit.disabled = false
      })
  })
  return { form, renderMine }
}

function isCodePublished(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'code-published'
  )
}

function describeError(error: unknown): string {
  if (isPeerjectError(error)) return `${error.code}: ${error.message}`
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

function formatSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  return node
}
