/**
 * Launches Debian's Chromium (/usr/bin/chromium) through playwright-core. Playwright's own browser
 * download is not used: it cannot reach its CDN on these machines.
 */
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'

/** Path of the Chromium binary (override with PEERJECT_CHROMIUM). */
export const CHROMIUM_PATH = process.env.PEERJECT_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Flags for these machines: no sandbox as root, no GPU, no background traffic (the network is
 * closed), and real local IPs in ICE candidates (no mDNS multicast here).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
]

/** Launches a headless Chromium that can make local WebRTC connections. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  })
}
