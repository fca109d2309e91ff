/**
 * References panel: this peer exposes a counter and a board (by reference, `room.expose`); the
 * panel lists what each connected peer exposes (`peer.list()`), lets you pick a peer, shows its
 * counter live through a callback it registers there (`counter.subscribe(fn)`), changes it with
 * +1 / −1 (remote calls), and shows and edits that peer's board.
 *
 * The exposed objects validate everything a remote peer passes: they are an API to strangers.
 * Callbacks of peers that left (their calls reject) are dropped.
 *
 * Hooks for tests: `[data-refs-own-value]` (this peer's counter), `select[data-refs-peer]` (option
 * values are peer ids), `[data-refs-names]` (names the selected peer exposes),
 * `[data-refs-value]` (its counter; `data-value` mirrors the number once known),
 * `[data-refs-action=inc|dec]`, `[data-refs-notes]` with `li[data-note-id]` and
 * `[data-refs-action=remove]` per note, `form[data-refs-note-form]`, `[data-refs-error]`.
 */
import { release } from 'peerject'
import type { PeerId, Remote, Room } from 'peerject'
import { MAX_NOTE_LENGTH, SharedBoard, SharedCounter } from './shared-objects.js'
import type { Note } from './shared-objects.js'
import { labelOf, onLabels } from './labels.js'

export { SharedBoard, SharedCounter }
export type { Note }

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  if (text !== undefined) element.textContent = text
  return element
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}

/** What the panel holds of the selected peer; `close` unsubscribes and releases. */
interface Selection {
  readonly peer: PeerId
  close(): void
}

/** Mounts the panel into `element`; returns its cleanup (unexposes, unsubscribes, releases). */
export function mountReferences(room: Room, element: HTMLElement): () => void {
  const counter = new SharedCounter()
  const board = new SharedBoard()
  room.expose('counter', counter)
  room.expose('board', board)

  const own = el('p', {}, 'This peer exposes counter (value ')
  const ownValue = el('output', { 'data-refs-own-value': '', 'aria-live': 'polite' }, '0')
  own.append(ownValue, document.createTextNode(') and board.'))
  const unsubscribeOwn = counter.subscribe((value) => void (ownValue.textContent = String(value)))

  const pickLabel = el('label', { for: 'refs-peer' }, 'Peer ')
  const pick = el('select', { id: 'refs-peer', 'data-refs-peer': '' })
  pickLabel.append(pick)
  const names = el('ul', { 'data-refs-names': '', 'aria-label': 'Names the peer exposes' })

  const remote = el('div', { 'data-refs-remote': '', hidden: '' })
  const valueLine = el('p', {}, "Peer's counter: ")
  const value = el('output', { 'data-refs-value': '', 'aria-live': 'polite' }, '…')
  const dec = el('button', {
    type: 'button',
    'data-refs-action': 'dec',
    'aria-label': "Decrease the peer's counter",
  })
  dec.textContent = '−1'
  const inc = el('button', {
    type: 'button',
    'data-refs-action': 'inc',
    'aria-label': "Increase the peer's counter",
  })
  inc.textContent = '+1'
  valueLine.append(value, document.createTextNode(' '), dec, inc)
  const notesTitle = el('h3', { id: 'refs-board-title' }, "Peer's board")
  const notes = el('ul', { 'data-refs-notes': '', 'aria-labelledby': 'refs-board-title' })
  const form = el('form', { 'data-refs-note-form': '' })
  const noteLabel = el('label', { for: 'refs-note' }, 'Note ')
  const noteInput = el('input', {
    id: 'refs-note',
    'data-refs-note-text': '',
    maxlength: String(MAX_NOTE_LENGTH),
    autocomplete: 'off',
    required: '',
  })
  noteLabel.append(noteInput)
  form.append(noteLabel, el('button', { type: 'submit', 'data-refs-action': 'add-note' }, 'Add'))
  remote.append(valueLine, notesTitle, notes, form)
  const error = el('p', { 'data-refs-error': '', role: 'alert', class: 'error' })

  element.replaceChildren(own, pickLabel, names, remote, error)

  let selection: Selection | undefined
  let generation = 0
  const report = (failure: unknown): void => void (error.textContent = describe(failure))
  /** Runs a remote action: clears the last error first, shows this one's if it fails. */
  const act = <T>(action: () => PromiseLike<T> | T, then?: (value: T) => void): void => {
    error.textContent = ''
    void Promise.resolve()
      .then(action)
      .then((result) => then?.(result), report)
  }

  const showValue = (next: number): void => {
    value.textContent = String(next)
    value.dataset.value = String(next)
  }
  const showNotes = (list: readonly Note[], boardStub: Remote<SharedBoard>): void => {
    notes.replaceChildren()
    for (const note of list) {
      const item = el('li', { 'data-note-id': String(note.id) }, `${note.text} `)
      const remove = el('button', {
        type: 'button',
        'data-refs-action': 'remove',
        'aria-label': `Remove note "${note.text}"`,
      })
      remove.textContent = '×'
      remove.onclick = () => act(() => boardStub.remove(note.id))
      item.append(remove)
      notes.append(item)
    }
  }

  const select = async (id: PeerId | undefined): Promise<void> => {
    const token = ++generation
    selection?.close()
    selection = undefined
    remote.hidden = true
    names.replaceChildren()
    value.textContent = '…'
    delete value.dataset.value
    notes.replaceChildren()
    error.textContent = ''
    const peer = id === undefined ? undefined : room.peers.get(id)
    if (peer === undefined) return
    const remoteCounter = peer.resolve<SharedCounter>('counter')
    const remoteBoard = peer.resolve<SharedBoard>('board')
    let closed = false
    const unsubscribers: Array<Remote<() => void>> = []
    const drop = (unsubscribe: Remote<() => void>): void =>
      void Promise.resolve(unsubscribe())
        .catch(() => undefined)
        .finally(() => release(unsubscribe))
    // A subscription that completes after the selection changed is undone at once.
    const keep = (unsubscribe: Remote<() => void>): void =>
      closed ? drop(unsubscribe) : void unsubscribers.push(unsubscribe)
    const current: Selection = {
      peer: peer.id,
      close() {
        closed = true
        for (const unsubscribe of unsubscribers.splice(0)) drop(unsubscribe)
        release(remoteCounter)
        release(remoteBoard)
      },
    }
    selection = current
    try {
      const exposed = await peer.list()
      if (token !== generation) return
      for (const name of exposed) names.append(el('li', {}, name))
      if (!exposed.includes('counter') || !exposed.includes('board')) {
        error.textContent = 'This peer exposes no counter and board.'
        return
      }
      keep(await remoteCounter.subscribe((next) => showValue(next)))
      if (token !== generation) return
      keep(await remoteBoard.subscribe((list) => showNotes(list, remoteBoard)))
      if (token !== generation) return
      showValue(await remoteCounter.value)
      showNotes(await remoteBoard.list(), remoteBoard)
      if (token !== generation) return
      remote.hidden = false
      inc.onclick = () => act(() => remoteCounter.add(1), showValue)
      dec.onclick = () => act(() => remoteCounter.add(-1), showValue)
      form.onsubmit = (event) => {
        event.preventDefault()
        const text = noteInput.value
        noteInput.value = ''
        act(() => remoteBoard.add(text))
      }
    } catch (failure) {
      if (token === generation) report(failure)
    }
  }

  const renderPeers = (): void => {
    const chosen = selection?.peer
    pick.replaceChildren(
      new Option(room.peers.size === 0 ? '— no peers yet —' : '— choose a peer —', ''),
    )
    for (const peer of room.peers.values()) pick.append(new Option(labelOf(peer.id), peer.id))
    const keep = chosen !== undefined && room.peers.has(chosen) ? chosen : undefined
    const next = keep ?? room.peers.keys().next().value
    pick.value = next ?? ''
    if (next !== chosen) void select(next)
  }

  pick.onchange = () => void select([...room.peers.keys()].find((id) => id === pick.value))
  const offPeer = room.on('peer', renderPeers)
  const offLeave = room.on('leave', renderPeers)
  const offLabels = onLabels(renderPeers)
  renderPeers()

  return () => {
    generation++
    offPeer()
    offLeave()
    offLabels()
    unsubscribeOwn()
    selection?.close()
    selection = undefined
    room.unexpose('counter')
    room.unexpose('board')
    element.replaceChildren()
  }
}
