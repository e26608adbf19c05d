// The part of autocannon's programmatic API that bench/load.ts uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram { average: number, total: number, p50: number, p90: number, p99: number }
  interface Result {
    requests: Histogram
    latency: Histogram
    non2xx: number
    errors: number
    timeouts: number
    statusCodeStats?: Record<string, { count: number }>
  }
  interface Instance extends PromiseLike<Result> {
    on: ((event: 'tick', listener: (data: { counter: number, bytes: number }) => void) => Instance) &
      /** Each response: its status, size and time in milliseconds (fractional, from hrtime). */
      ((event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void) => Instance)
  }
  function autocannon (options: Record<string, unknown>): Instance
  export default autocannon
}
