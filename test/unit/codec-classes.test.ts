import { describe, expect, it } from 'vitest'
import { ClassRegistry, Codec } from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'

function expectCode(run: () => unknown, code: string, message?: RegExp): void {
  let thrown: unknown
  try {
    run()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(PeerjectError)
  expect((thrown as PeerjectError).code).toBe(code)
  if (message !== undefined) expect((thrown as PeerjectError).message).toMatch(message)
}

describe('ClassRegistry', () => {
  it('registers under ctor.name by default, or an explicit name', () => {
    class Alpha {}
    class Beta {}
    const classes = new ClassRegistry()
    classes.register(Alpha)
    classes.register(Beta, { name: 'app.Beta' })
    expect(classes.names()).toEqual(['Alpha', 'app.Beta'])
    expect(classes.has(Alpha)).toBe(true)
    expect(classes.has('app.Beta')).toBe(true)
    expect(classes.has('Beta')).toBe(false)
  })

  it('refuses duplicate names and registering one class twice', () => {
    class Same {}
    const Other = class Same {}
    const classes = new ClassRegistry()
    classes.register(Same)
    expectCode(() => classes.register(Other), 'ERR_UNSERIALIZABLE', /"Same" is already registered/)
    expectCode(
      () => classes.register(Same, { name: 'Again' }),
      'ERR_UNSERIALIZABLE',
      /already registered as "Same"/,
    )
  })

  it('needs a name for anonymous classes', () => {
    const classes = new ClassRegistry()
    const anonymous = [class {}][0] as new () => object
    expectCode(() => classes.register(anonymous), 'ERR_UNSERIALIZABLE', /no name/)
    classes.register(anonymous, { name: 'Anon' })
    expect(classes.has('Anon')).toBe(true)
  })

  it('refuses built-ins and their subclasses (Error subclasses excepted)', () => {
    const classes = new ClassRegistry()
    class MyMap extends Map {}
    class MyBytes extends Uint8Array {}
    class MyArray extends Array {}
    for (const ctor of [Object, Map, Date, MyMap, MyBytes, MyArray, TypeError, PeerjectError]) {
      expectCode(() => classes.register(ctor as never), 'ERR_UNSERIALIZABLE')
    }
    class MyError extends TypeError {}
    classes.register(MyError)
    expect(classes.byName('MyError')?.isError).toBe(true)
  })
})

describe('registered classes on the wire', () => {
  it('revives instances without calling the constructor, methods from the prototype', () => {
    let constructed = 0
    class Counter {
      count = 0
      constructor() {
        constructed++
      }
      increment(): number {
        return ++this.count
      }
    }
    const classes = new ClassRegistry()
    classes.register(Counter)
    const codec = new Codec({ classes })
    const original = new Counter()
    original.increment()
    const decoded = codec.decode(codec.encode(original)) as Counter
    expect(constructed).toBe(1)
    expect(decoded).toBeInstanceOf(Counter)
    expect(decoded).not.toBe(original)
    expect(decoded.increment()).toBe(2)
  })

  it('sends own enumerable fields only, minus omit, defining them without setters', () => {
    class Guarded {
      visible = 1
      secret = 'x'
      static setterCalls = 0
      constructor() {
        Object.defineProperty(this, 'hidden', { value: 2, enumerable: false })
      }
      set guarded(_value: unknown) {
        Guarded.setterCalls++
      }
    }
    const classes = new ClassRegistry()
    classes.register(Guarded, { omit: ['secret'] })
    const codec = new Codec({ classes })
    const original = new Guarded()
    Object.defineProperty(original, 'guarded', { value: 'own', enumerable: true })
    const decoded = codec.decode(codec.encode(original)) as Record<string, unknown>
    expect(Object.keys(decoded)).toEqual(['visible', 'guarded'])
    expect(decoded.guarded).toBe('own')
    expect(Guarded.setterCalls).toBe(0)
  })

  it('rejects an unknown class name on decode, telling the user to register it', () => {
    class Widget {
      size = 3
    }
    const sender = new ClassRegistry()
    sender.register(Widget)
    const bytes = new Codec({ classes: sender }).encode({ parts: [new Widget()] })
    expectCode(
      () => new Codec().decode(bytes),
      'ERR_BAD_MESSAGE',
      /class "Widget".*room\.registerClass\(Widget\)/,
    )
  })

  it('refuses unregistered instances with ERR_UNSERIALIZABLE naming the class and path', () => {
    class Loose {
      a = 1
    }
    expectCode(
      () => new Codec().encode({ list: [0, new Loose()] }),
      'ERR_UNSERIALIZABLE',
      /^value\.list\[1\] is an instance of Loose, which is not a registered class; register it on both peers with room\.registerClass\(Loose\)/,
    )
  })

  it('refuses an object built into the platform as such, without suggesting registration', () => {
    expectCode(
      () => new Codec().encode({ order: new Intl.Collator() }),
      'ERR_UNSERIALIZABLE',
      /^value\.order is a Collator, an object of the platform, not data; it cannot cross/,
    )
  })

  it('matches by exact prototype: a subclass of a registered class is not registered', () => {
    class Base {
      b = 1
    }
    class Derived extends Base {}
    const classes = new ClassRegistry()
    classes.register(Base)
    expectCode(() => new Codec({ classes }).encode(new Derived()), 'ERR_UNSERIALIZABLE', /Derived/)
  })

  it('registered Error subclasses keep their class; their unregistered subclasses fall back to them', () => {
    class AppError extends Error {
      code = 'E_APP'
    }
    class DbError extends AppError {}
    const classes = new ClassRegistry()
    classes.register(AppError)
    const codec = new Codec({ classes })
    const decoded = codec.decode(codec.encode([new AppError('a'), new DbError('b')])) as Error[]
    expect(Object.getPrototypeOf(decoded[0])).toBe(AppError.prototype)
    expect(Object.getPrototypeOf(decoded[1])).toBe(AppError.prototype)
    expect(decoded.map((error) => [error.message, (error as AppError).code])).toEqual([
      ['a', 'E_APP'],
      ['b', 'E_APP'],
    ])
  })

  it('an Error class name registered as a plain class on the receiver is rejected', () => {
    class Clash extends Error {}
    const sender = new ClassRegistry()
    sender.register(Clash)
    const receiver = new ClassRegistry()
    receiver.register(class Clash {})
    const bytes = new Codec({ classes: sender }).encode(new Clash('x'))
    expectCode(() => new Codec({ classes: receiver }).decode(bytes), 'ERR_BAD_MESSAGE', /Clash/)
  })
})
