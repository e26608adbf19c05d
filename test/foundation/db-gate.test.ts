// The database gate (lib/db-gate.ts): a failure to connect refuses database work at once until a
// probe reaches Postgres; every other error passes through and leaves it open.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDbGate, gated, isConnectFailure } from '../../lib/db-gate.ts'
import { until } from '../helpers/spawn-server.ts'

const failure = (code: string) => Object.assign(new Error(`failed: ${code}`), { code })

test('isConnectFailure: connection attempts that found no server, nothing else', () => {
  for (const code of ['ECONNREFUSED', 'CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT', '57P03']) assert.equal(isConnectFailure(failure(code)), true, code)
  // A statement timeout, a revoked privilege, a full connection cap, a read-only database, one
  // killed connection: the next connection may well work
  for (const code of ['57014', '42501', '53300', '25006', '57P01', 'ECONNRESET', 'CONNECTION_CLOSED']) assert.equal(isConnectFailure(failure(code)), false, code)
  assert.equal(isConnectFailure(new Error('no code')), false)
  assert.equal(isConnectFailure(null), false)
})

test('open: results and errors pass through; errors other than a failure to connect leave it open', async () => {
  let probes = 0
  const gate = createDbGate({ probe: async () => { probes++ } })
  assert.equal(await gate.run(async () => 42), 42)
  for (const code of ['57014', '42501', '53300']) {
    await assert.rejects(gate.run(async () => { throw failure(code) }), { code })
    assert.equal(gate.closed, false, code)
  }
  let calls = 0
  assert.equal(await gate.run(async () => ++calls), 1)
  await sleep(20)
  assert.equal(probes, 0, 'no probe while nothing failed to connect')
  gate.stop()
})

test('a failure to connect while Postgres still answers the probe leaves it open', async () => {
  let probes = 0
  const closed: unknown[] = []
  const gate = createDbGate({ probe: async () => { probes++ }, probeEveryMs: 10, onClosed: (err) => closed.push(err) })
  // One slow login or DNS hiccup; the pool's open connections still work
  await assert.rejects(gate.run(async () => { throw failure('CONNECT_TIMEOUT') }), { code: 'CONNECT_TIMEOUT' })
  assert.ok(await until(() => probes === 1, 2000, 5), 'the failure is checked with a probe')
  await sleep(30)
  assert.equal(gate.closed, false)
  assert.deepEqual(closed, [])
  assert.equal(await gate.run(async () => 'still open'), 'still open')
  gate.stop()
})

test('a refused connection that the probe confirms closes it: work is refused at once, reported once, until a probe answers', async () => {
  let probeAnswers = false
  let probes = 0
  const closed: unknown[] = []
  const probeFailures: unknown[] = []
  const opened: number[] = []
  const gate = createDbGate({
    probe: async () => { probes++; if (!probeAnswers) throw failure(probes < 3 ? 'ECONNREFUSED' : '57P03') },
    probeEveryMs: 10,
    onClosed: (err) => closed.push(err),
    onProbeFailed: (err) => probeFailures.push((err as { code?: string }).code),
    onOpened: (ms) => opened.push(ms)
  })
  // Two at once, as under load: one check, one report
  await Promise.all([1, 2].map(async () => await assert.rejects(gate.run(async () => { throw failure('ECONNREFUSED') }), { code: 'ECONNREFUSED' })))
  assert.ok(await until(() => gate.closed, 2000, 5), 'closes once the probe fails too')

  let ran = 0
  for (let i = 0; i < 5; i++) {
    await assert.rejects(gate.run(async () => { ran++ }), { code: 'GALLERY_DATABASE_UNAVAILABLE', statusCode: 503 })
  }
  assert.equal(ran, 0, 'refused work is not started')

  // Probes keep failing: still closed
  assert.ok(await until(() => probes >= 4, 2000, 5), `probes: ${probes}`)
  assert.equal(gate.closed, true)
  assert.equal(opened.length, 0)
  assert.equal(closed.length, 1, 'one report per outage')
  assert.equal((closed[0] as { code?: string }).code, 'ECONNREFUSED')
  assert.deepEqual(probeFailures, ['ECONNREFUSED', '57P03'], 'a probe failure is reported when its code changes')

  probeAnswers = true
  assert.ok(await until(() => !gate.closed, 2000, 5), 'opens once a probe answers')
  assert.equal(opened.length, 1)
  assert.ok(opened[0]! >= 20, `closed for ${opened[0]} ms, across at least two 10 ms waits`)
  assert.equal(await gate.run(async () => 'back'), 'back')
  // Open again: no more probes
  const after = probes
  await sleep(50)
  assert.equal(probes, after)
  gate.stop()
})

test('a probe that never answers has failed after probeTimeoutMs, and is told to stop', async () => {
  const aborted: boolean[] = []
  const gate = createDbGate({
    // A dead socket: the query neither answers nor errors
    probe: async (signal) => await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { aborted.push(true); reject(signal.reason) }) }),
    probeEveryMs: 10,
    probeTimeoutMs: 30
  })
  await assert.rejects(gate.run(async () => { throw failure('CONNECT_TIMEOUT') }))
  assert.ok(await until(() => gate.closed, 2000, 5), 'a probe that hangs counts as failed')
  assert.ok(aborted.length >= 1, 'the probe was aborted')
  gate.stop()
})

test('stop() ends the probing', async () => {
  let probes = 0
  const gate = createDbGate({ probe: async () => { probes++; throw failure('ECONNREFUSED') }, probeEveryMs: 10 })
  await assert.rejects(gate.run(async () => { throw failure('CONNECT_TIMEOUT') }))
  assert.ok(await until(() => probes >= 2, 2000, 5))
  gate.stop()
  await sleep(30)
  const stoppedAt = probes
  await sleep(60)
  assert.equal(probes, stoppedAt)
})

test('gated(): each method goes through the gate with its arguments', async () => {
  const gate = createDbGate({ probe: async () => { throw failure('ECONNREFUSED') }, probeEveryMs: 1000 })
  const api = gated({ async add (a: number, b: number) { return a + b }, async refuse () { throw failure('ECONNREFUSED') } }, gate)
  assert.equal(await api.add(2, 3), 5)
  await assert.rejects(api.refuse(), { code: 'ECONNREFUSED' })
  assert.ok(await until(() => gate.closed, 2000, 5))
  await assert.rejects(api.add(1, 1), { code: 'GALLERY_DATABASE_UNAVAILABLE' })
  gate.stop()
})
