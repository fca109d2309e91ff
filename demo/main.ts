/**
 * The peer-to-peer demo page: join a room, watch peers come and go, send text, rich values and
 * files (with progress on both sides and cancel), use a shared counter and board by reference,
 * and run code objects other peers publish. The signaling URL comes from `?signaling=` or the dev
 * server.
 */
import { isPeerjectError, joinRoom } from 'peerject'
import type { Peer, PeerjectError, Room } from 'peerject'
import { mountReferences } from './references.js'
import { mountCode } from './code.js'
import { labelOf, onLabels, setRole, shortId } from './labels.js'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const params = new URLSearchParams(location.search)
const signaling =
  params.get('signaling') ??
  (import.meta.env.VITE_SIGNALING_URL as string | undefined) ??
  `ws://${location.hostname}:8787`

let room: Room | undefined
let joining = false
const cleanups: Array<() => void> = []

function log(text: string, className?: string): void {
  const item = document.createElement('li')
  item.textContent = text
  if (className !== undefined) item.className = className
  $('log').prepend(item)
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function renderPeers(): void {
  const list = $('peers')
  const select = $<HTMLSelectElement>('send-to')
  const chosen = select.value
  list.replaceChildren()
  select.replaceChildren(new Option('everyone', '*'))
  const peers = [...(room?.peers.values() ?? [])].sort((a, b) => (a.id < b.id ? -1 : 1))
  for (const peer of peers) {
    const item = document.createElement('li')
    item.dataset.peer = peer.id
    item.textContent = labelOf(peer.id)
    item.title = peer.id
    list.append(item)
    select.append(new Option(labelOf(peer.id), peer.id))
  }
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen
  if (room !== undefined && peers.length === 0) {
    const item = document.createElement('li')
    item.className = 'empty'
    item.textContent = 'Nobody else yet: open this page in another tab or browser.'
    list.append(item)
  }
  const status = $('status')
  if (room !== undefined && status.className !== 'error') {
    status.textContent = `Joined "${room.name}" — ${peers.length} other peer${peers.length === 1 ? '' : 's'}.`
  }
}

function targets(): Peer[] {
  const to = $<HTMLSelectElement>('send-to').value
  const all = [...(room?.peers.values() ?? [])]
  const chosen = to === '*' ? all : all.filter((peer) => peer.id === to)
  if (chosen.length === 0)
    log(room === undefined ? 'Join a room first.' : 'No peers to send to yet.', 'error')
  return chosen
}

const MB = 1024 * 1024
const size = (bytes: number): string =>
  bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`

/** A row of the transfers list: a progress bar, a label, byte counts and an optional Cancel. */
interface TransferRow {
  readonly item: HTMLLIElement
  progress(done: number, total: number): void
  /** Ends the row with `outcome`, keeping the bar where it stopped. */
  end(outcome: string, className?: string): void
}

function transferRow(label: string, cancel?: () => void): TransferRow {
  const item = document.createElement('li')
  const bar = document.createElement('progress')
  bar.max = 1
  bar.value = 0
  bar.setAttribute('aria-label', label)
  const text = document.createElement('span')
  text.textContent = ` ${label} `
  const bytes = document.createElement('small')
  item.append(bar, text, bytes)
  if (cancel !== undefined) {
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = 'Cancel'
    button.setAttribute('aria-label', `Cancel ${label}`)
    button.onclick = cancel
    item.append(button)
  }
  $('transfers').prepend(item)
  return {
    item,
    progress(done, total) {
      bar.value = total === 0 ? 1 : done / total
      bytes.textContent = `${size(done)} / ${size(total)} `
    },
    end(outcome, className) {
      text.textContent = ` ${label} — ${outcome} `
      if (className !== undefined) item.className = className
      item.querySelector('button')?.remove()
    },
  }
}

/** Why a transfer stopped, in words. */
function stopped(error: unknown, side: 'sender' | 'receiver'): string {
  const code = isPeerjectError(error) ? (error as PeerjectError).code : undefined
  if (code === 'ERR_ABORTED')
    return side === 'sender' ? 'aborted: you cancelled' : 'cancelled by the sender'
  if (code === 'ERR_PEER_LEFT')
    return side === 'sender' ? 'stopped: the peer left' : 'cancelled: the sender left'
  if (code === 'ERR_CLOSED') return 'stopped: you left the room'
  return `stopped: ${describe(error)}`
}

/** Sends `file` to every chosen peer at once, each with its own stream, progress and Cancel. */
function sendFile(file: File): void {
  for (const peer of targets()) void sendFileTo(file, peer)
}

async function sendFileTo(file: File, peer: Peer): Promise<void> {
  const controller = new AbortController()
  const row = transferRow(`${file.name} → ${labelOf(peer.id)}`, () => controller.abort())
  row.progress(0, file.size)
  // `onProgress` covers the value's own message, not its streams: count the file's bytes as
  // the stream hands them over (backpressure paces that to what the peer takes).
  let sent = 0
  const body = file.stream().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        sent += chunk.byteLength
        row.progress(sent, file.size)
        out.enqueue(chunk)
      },
    }),
  )
  try {
    await peer.send(
      { kind: 'file', name: file.name, type: file.type, size: file.size, body },
      { signal: controller.signal },
    )
    row.progress(file.size, file.size)
    row.end('sent')
  } catch (error) {
    row.end(stopped(error, 'sender'), 'error')
  }
}

async function receiveFile(
  value: { name: string; type: string; size: number; body: ReadableStream<Uint8Array> },
  from: Peer,
): Promise<void> {
  const reader = value.body.getReader()
  let cancelledHere = false
  const row = transferRow(`${value.name} ← ${labelOf(from.id)}`, () => {
    cancelledHere = true
    void reader.cancel(new Error('the receiver cancelled')).catch(() => undefined)
  })
  row.progress(0, value.size)
  const parts: Uint8Array[] = []
  let received = 0
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      parts.push(read.value)
      received += read.value.byteLength
      row.progress(received, value.size)
    }
  } catch (error) {
    row.end(stopped(error, 'receiver'), 'error')
    return
  }
  if (cancelledHere) {
    row.end('cancelled by you', 'error')
    return
  }
  const link = document.createElement('a')
  link.href = URL.createObjectURL(new Blob(parts as BlobPart[], { type: value.type }))
  link.download = value.name
  link.textContent = `Download ${value.name}`
  row.end('received')
  row.item.append(link)
}

/** A value JSON could not carry: the receiver lists what arrived as itself. */
function richValue(): Record<string, unknown> {
  const cycle: { name: string; self?: unknown } = { name: 'a cycle' }
  cycle.self = cycle
  return {
    kind: 'rich',
    date: new Date(),
    bigint: 2n ** 80n,
    map: new Map<unknown, unknown>([
      [1, 'one'],
      ['two', 2],
    ]),
    set: new Set(['a', 'b']),
    bytes: new Uint8Array([1, 2, 3]),
    error: new RangeError('an error', { cause: new Error('its cause') }),
    cycle,
  }
}

function describeRich(value: Record<string, unknown>): string {
  const cycle = value['cycle'] as { self?: unknown } | undefined
  const checks: Array<[string, boolean]> = [
    ['Date', value['date'] instanceof Date],
    ['bigint', typeof value['bigint'] === 'bigint'],
    ['Map', value['map'] instanceof Map],
    ['Set', value['set'] instanceof Set],
    ['Uint8Array', value['bytes'] instanceof Uint8Array],
    [
      'RangeError with cause',
      value['error'] instanceof RangeError && (value['error'] as Error).cause instanceof Error,
    ],
    ['cycle', cycle !== undefined && cycle.self === cycle],
  ]
  return checks.map(([name, ok]) => `${name} ${ok ? '✓' : '✗'}`).join(', ')
}

function setJoined(joined: boolean): void {
  $<HTMLButtonElement>('join').disabled = joined
  $<HTMLInputElement>('room-name').disabled = joined
  $<HTMLButtonElement>('leave').disabled = !joined
  $<HTMLFieldSetElement>('send-fields').disabled = !joined
}

function placeholders(): void {
  $('refs').replaceChildren(
    Object.assign(document.createElement('p'), {
      textContent: 'Join a room to use other peers’ objects.',
    }),
  )
  $('code').replaceChildren(
    Object.assign(document.createElement('p'), {
      textContent: 'Join a room to run other peers’ code objects.',
    }),
  )
}

async function join(requested: string): Promise<void> {
  const name = requested.trim()
  if (joining || room !== undefined) return
  if (name === '') {
    $('status').textContent = 'Enter a room name.'
    $('status').className = 'error'
    return
  }
  joining = true
  $<HTMLButtonElement>('join').disabled = true
  $<HTMLInputElement>('room-name').disabled = true
  $('status').className = ''
  $('status').textContent = `Joining "${name}" via ${signaling}…`
  let current: Room
  try {
    current = await joinRoom({ signaling, room: name })
  } catch (error) {
    $('status').textContent = `Could not join: ${describe(error)}`
    $('status').className = 'error'
    setJoined(false)
    return
  } finally {
    joining = false
  }
  room = current
  const url = new URL(location.href)
  url.searchParams.set('room', name)
  history.replaceState(null, '', url)
  $('self-id').textContent = current.self
  setJoined(true)
  log(`— you joined "${name}" as ${shortId(current.self)} —`, 'divider')
  current.on('peer', (peer) => {
    log(`${labelOf(peer.id)} joined`)
    renderPeers()
    void peer.send({ kind: 'hello', role: 'page' }).catch(() => undefined)
  })
  current.on('leave', (peer, reason) => {
    // Your own leave closes every connection: one line for it, not one per peer.
    if (reason?.code !== 'ERR_CLOSED') {
      log(`${labelOf(typeof peer === 'string' ? peer : peer.id)} left`)
    }
    renderPeers()
  })
  current.on('error', (error) => log(`${error.code}: ${error.message}`, 'error'))
  current.on('message', (value, from) => {
    const message = (typeof value === 'object' && value !== null ? value : {}) as Record<
      string,
      unknown
    >
    switch (message['kind']) {
      case 'file':
        void receiveFile(value as Parameters<typeof receiveFile>[0], from)
        return
      case 'text':
        log(`${labelOf(from.id)}: ${String(message['text'])}`)
        return
      case 'rich':
        log(`${labelOf(from.id)} sent a rich value: ${describeRich(message)}`)
        return
      case 'hello':
        setRole(from.id, message['role'] === 'node' ? 'Node peer' : 'page')
        return
    }
  })
  cleanups.push(mountReferences(current, $('refs')), mountCode(current, $('code')))
  renderPeers()
}

function leave(): void {
  const left = room
  if (left === undefined) return
  for (const cleanup of cleanups.splice(0)) cleanup()
  room = undefined
  left.leave()
  log(`— you left "${left.name}" —`, 'divider')
  $('self-id').textContent = '—'
  $('status').className = ''
  $('status').textContent = 'Not joined.'
  setJoined(false)
  placeholders()
  renderPeers()
}

onLabels(renderPeers)
$('join-form').addEventListener('submit', (event) => {
  event.preventDefault()
  void join($<HTMLInputElement>('room-name').value)
})
$('leave').addEventListener('click', leave)
$('send-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = $<HTMLInputElement>('text')
  const text = input.value
  if (text === '') return
  const peers = targets()
  input.focus()
  if (peers.length === 0) return
  input.value = ''
  for (const peer of peers) {
    void peer.send({ kind: 'text', text }).catch((error: unknown) => log(describe(error), 'error'))
  }
  log(`me: ${text}`)
})
$('send-rich').addEventListener('click', () => {
  const peers = targets()
  for (const peer of peers) {
    void peer.send(richValue()).catch((error: unknown) => log(describe(error), 'error'))
  }
  if (peers.length > 0)
    log('me: a rich value (Date, bigint, Map, Set, Uint8Array, RangeError, cycle)')
})
const fileInput = $<HTMLInputElement>('file')
fileInput.addEventListener('change', () => {
  for (const file of fileInput.files ?? []) sendFile(file)
  fileInput.value = '' // choosing the same file again sends it again
})
const drop = $('drop')
drop.addEventListener('dragover', (event) => {
  event.preventDefault()
  drop.classList.add('over')
})
drop.addEventListener('dragleave', () => drop.classList.remove('over'))
drop.addEventListener('drop', (event) => {
  event.preventDefault()
  drop.classList.remove('over')
  if (room === undefined) {
    log('Join a room first.', 'error')
    return
  }
  for (const file of event.dataTransfer?.files ?? []) sendFile(file)
})

placeholders()
if (params.has('room')) {
  $<HTMLInputElement>('room-name').value = params.get('room') ?? 'demo'
  void join(params.get('room') ?? 'demo')
}
