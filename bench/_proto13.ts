import { runCodecBench } from './codec.js'
for (let i = 0; i < 3; i++)
  for (const r of await runCodecBench()) console.log(r.ratio.toFixed(2), r.name.slice(0, 40))
