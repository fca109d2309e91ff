/**
 * The peer-to-peer demo page: join a room, watch peers come and go, send text and files (with
 * progress on both sides and cancel), use a shared counter and board by reference, and run code
 * objects other peers publish. The signaling URL comes from `?signaling=` or the dev server.
 */
import { joinRoom } from 'peerject'
import type { Peer, Room } from 'peerject'
import { mountReferences } from './references.js'
import { mountCode } from './code.js'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const params = new URLSearchParams(location.search)
const signaling =
  params.get('signaling') ??
  (import.meta.env.VITE_SIGNALING_URL as string | undefined) ??
  `ws://${location.hostname}:8787`

let room: Room | undefined
const cleanups: Array<() => void> = []

function log(text: string, className?: string): void {
  const item = document.createElement('li')
  item.textContent = text
  if (className !== undefined) item.className = className
  $('log').prepend(item)
}

function renderPeers(): void {
  const list = $('peers')
  const select = $<HTMLSelectElement>('send-to')
  list.replaceChildren()
  select.replaceChildren(new Option('everyone', '*'))
  for (const peer of room?.peers.values() ?? []) {
    const item = document.createElement('li')
    item.dataset.peer = peer.id
    item.textContent = peer.id
    list.append(item)
    select.append(new Option(peer.id.slice(0, 8), peer.id))
  }
}

function targets(): Peer[] {
  const to = $<HTMLSelectElement>('send-to').value
  const all = [...(room?.peers.values() ?? [])]
  return to === '*' ? all : all.filter((peer) => peer.id === to)
}

function transferRow(
  label: string,
  cancel?: () => void,
): (sent: number, total: number, done?: string) => void {
  const item = document.createElement('li')
  const bar = document.createElement('progress')
  bar.max = 1
  bar.value = 0
  const text = document.createElement('span')
  text.textContent = ` ${label} `
  item.append(bar, text)
  if (cancel !== undefined) {
    const button = document.createElement('button')
    button.textContent = 'Cancel'
    button.onclick = cancel
    item.append(button)
  }
  $('transfers').prepend(item)
  return (sent, total, done) => {
    bar.value = total === 0 ? 1 : sent / total
    if (done !== undefined) {
      text.textContent = ` ${label} — ${done} `
      item.querySelector('button')?.remove()
    }
  }
}

async function sendFile(file: File): Promise<void> {
  for (const peer of targets()) {
    const controller = new AbortController()
    const update = transferRow(`${file.name} → ${peer.id.slice(0, 8)}`, () => controller.abort())
    // `onProgress` covers the value's own message, not its streams: count the file's bytes as
    // the stream hands them over (backpressure paces that to what the peer takes).
    let sent = 0
    const body = file.stream().pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          sent += chunk.byteLength
          update(sent, file.size)
          out.enqueue(chunk)
        },
      }),
    )
    try {
      await peer.send(
        { kind: 'file', name: file.name, type: file.type, size: file.size, body },
        { signal: controller.signal },
      )
      update(1, 1, 'sent')
    } catch (error) {
      update(0, 1, error instanceof Error ? error.message : String(error))
    }
  }
}

async function receiveFile(
  value: { name: string; type: string; size: number; body: ReadableStream<Uint8Array> },
  from: Peer,
): Promise<void> {
  const update = transferRow(`${value.name} ← ${from.id.slice(0, 8)}`)
  const parts: Uint8Array[] = []
  let received = 0
  try {
    for await (const chunk of value.body as unknown as AsyncIterable<Uint8Array>) {
      parts.push(chunk)
      received += chunk.byteLength
      update(received, value.size)
    }
    const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type: value.type }))
    const link = document.createElement('a')
    link.href = url
    link.download = value.name
    link.textContent = 'download'
    update(received, value.size, 'received')
    $('transfers').firstElementChild?.append(link)
  } catch (error) {
    update(
      received,
      value.size,
      `cancelled (${error instanceof Error ? error.message : String(error)})`,
    )
  }
}

async function join(name: string): Promise<void> {
  $('status').textContent = `Joining "${name}" via ${signaling}…`
  try {
    room = await joinRoom({ signaling, room: name })
  } catch (error) {
    $('status').textContent =
      `Could not join: ${error instanceof Error ? error.message : String(error)}`
    $('status').className = 'error'
    return
  }
  const current = room
  $('status').className = ''
  $('status').textContent = `Joined "${name}".`
  $('self-id').textContent = current.self
  $<HTMLButtonElement>('join').disabled = true
  $<HTMLButtonElement>('leave').disabled = false
  current.on('peer', (peer) => {
    log(`${peer.id.slice(0, 8)} joined`)
    renderPeers()
  })
  current.on('leave', (peer) => {
    log(`${(typeof peer === 'string' ? peer : peer.id).slice(0, 8)} left`)
    renderPeers()
  })
  current.on('error', (error) => log(`${error.code}: ${error.message}`, 'error'))
  current.on('message', (value, from) => {
    if (
      typeof value === 'object' &&
      value !== null &&
      (value as { kind?: unknown }).kind === 'file'
    ) {
      void receiveFile(value as Parameters<typeof receiveFile>[0], from)
    } else if (
      typeof value === 'object' &&
      value !== null &&
      (value as { kind?: unknown }).kind === 'text'
    ) {
      log(`${from.id.slice(0, 8)}: ${(value as { text: string }).text}`)
    }
  })
  cleanups.push(mountReferences(current, $('refs')), mountCode(current, $('code')))
  renderPeers()
}

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault()
  void join($<HTMLInputElement>('room-name').value)
})
$('leave').addEventListener('click', () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  room?.leave()
  room = undefined
  renderPeers()
  $('status').textContent = 'Left.'
  $<HTMLButtonElement>('join').disabled = false
  $<HTMLButtonElement>('leave').disabled = true
})
$('send-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = $<HTMLInputElement>('text')
  const text = input.value
  if (text === '') return
  input.value = ''
  for (const peer of targets())
    void peer.send({ kind: 'text', text }).catch((error: unknown) => log(String(error), 'error'))
  log(`me: ${text}`)
})
$('file').addEventListener('change', () => {
  for (const file of $<HTMLInputElement>('file').files ?? []) void sendFile(file)
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
  for (const file of event.dataTransfer?.files ?? []) void sendFile(file)
})

if (params.has('room')) void join(params.get('room') ?? 'demo')
