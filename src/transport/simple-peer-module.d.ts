// `#simple-peer` is a package.json subpath import resolving to simple-peer's self-contained browser
// bundle (simplepeer.min.js), which carries its own Buffer/events/stream shims, so apps need no
// polyfills (docs/architecture.md, "simple-peer"). Its API is that of the `simple-peer` package.
declare module '#simple-peer' {
  import SimplePeer from 'simple-peer'
  export default SimplePeer
}
