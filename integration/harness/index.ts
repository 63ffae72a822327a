export * from './genesis.js'
export * from './node.js'
export * from './ports.js'
export * from './rpc.js'
