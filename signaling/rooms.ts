/** The room registry: room name → its connections by peer id. Empty rooms are deleted. */
import type { Connection } from './connection.js'

/** Rooms and their members. */
export class Rooms {
  readonly #rooms = new Map<string, Map<string, Connection>>()

  /** Rooms with at least one member. */
  get count(): number {
    return this.#rooms.size
  }

  /** Members of `room` (empty when it does not exist). */
  members(room: string): ReadonlyMap<string, Connection> {
    return this.#rooms.get(room) ?? new Map<string, Connection>()
  }

  /** Adds `connection` to `room`, creating the room. */
  add(room: string, connection: Connection): void {
    let members = this.#rooms.get(room)
    if (members === undefined) {
      members = new Map()
      this.#rooms.set(room, members)
    }
    members.set(connection.id, connection)
    connection.rooms.add(room)
  }

  /** Removes `connection` from `room`; returns false when it was not in it. */
  remove(room: string, connection: Connection): boolean {
    const members = this.#rooms.get(room)
    connection.rooms.delete(room)
    if (members === undefined || !members.delete(connection.id)) return false
    if (members.size === 0) this.#rooms.delete(room)
    return true
  }
}
