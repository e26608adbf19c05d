// The database gate (lib/db-gate.ts): a failure to connect refuses database work at once until a
// probe reaches Postgres; every other error passes through and leaves it open.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDbGate, gated, isConnectFailure } from '../../lib/db-gate.ts'
import { until } from '../helpers/spawn-server.ts'

const failure = (code: string) => Object.assign(new Error(`failed: ${code}`), { code })

test('isConnectFailure: connection attempts that found no server, nothing else', () => {
  for (const code of ['ECONNREFUSED', 'CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', '57P03']) assert.equal(isConnectFailure(failure(code)), true, code)
  // A statement timeout, a revoked privilege, a full connection cap, a read-only database, one
  // killed connection: the next connection may well work
  for (const code of ['57014', '42501', '53300', '25006', '57P01', 'ECONNRESET', 'CONNECTION_CLOSED']) assert.equal(isConnectFailure(failure(code)), false, code)
  assert.equal(isConnectFailure(new Error('no code')), false)
  assert.equal(isConnectFailure(null), false)
})

test('open: results and errors pass through; errors other than a failure to connect leave it open', async () => {
  const gate = createDbGate({ probe: async () => { throw new Error('never probed while open') } })
  assert.equal(await gate.run(async () => 42), 42)
  for (const code of ['57014', '42501', '53300']) {
    await assert.rejects(gate.run(async () => { throw failure(code) }), { code })
    assert.equal(gate.closed, false, code)
  }
  let calls = 0
  assert.equal(await gate.run(async () => ++calls), 1)
  gate.stop()
})

test('a refused connection closes it: work is refused at once, logged once, until a probe answers', async () => {
  let probeAnswers = false
  let probes = 0
  const closed: unknown[] = []
  const opened: number[] = []
  const gate = createDbGate({
    probe: async () => { probes++; if (!probeAnswers) throw failure('ECONNREFUSED') },
    probeEveryMs: 10,
    onClosed: (err) => closed.push(err),
    onOpened: (ms) => opened.push(ms)
  })
  await assert.rejects(gate.run(async () => { throw failure('ECONNREFUSED') }), { code: 'ECONNREFUSED' })
  assert.equal(gate.closed, true)

  let ran = 0
  for (let i = 0; i < 5; i++) {
    await assert.rejects(gate.run(async () => { ran++ }), { code: 'GALLERY_DATABASE_UNAVAILABLE', statusCode: 503 })
  }
  assert.equal(ran, 0, 'refused work is not started')
  assert.equal(closed.length, 1, 'one report per outage')
  assert.equal((closed[0] as { code?: string }).code, 'ECONNREFUSED')

  // Probes keep failing: still closed
  assert.ok(await until(() => probes >= 3, 2000, 5), `probes: ${probes}`)
  assert.equal(gate.closed, true)
  assert.equal(opened.length, 0)

  probeAnswers = true
  assert.ok(await until(() => !gate.closed, 2000, 5), 'opens once a probe answers')
  assert.equal(opened.length, 1)
  assert.ok(opened[0]! >= 0)
  assert.equal(await gate.run(async () => 'back'), 'back')
  // Open again: no more probes
  const after = probes
  await sleep(50)
  assert.equal(probes, after)
  gate.stop()
})

test('stop() ends the probing', async () => {
  let probes = 0
  const gate = createDbGate({ probe: async () => { probes++; throw failure('ECONNREFUSED') }, probeEveryMs: 10 })
  await assert.rejects(gate.run(async () => { throw failure('CONNECT_TIMEOUT') }))
  assert.ok(await until(() => probes >= 1, 2000, 5))
  gate.stop()
  await sleep(30)
  const stoppedAt = probes
  await sleep(60)
  assert.equal(probes, stoppedAt)
})

test('gated(): each method goes through the gate with its arguments', async () => {
  const gate = createDbGate({ probe: async () => {}, probeEveryMs: 1000 })
  const api = gated({ async add (a: number, b: number) { return a + b }, async refuse () { throw failure('ECONNREFUSED') } }, gate)
  assert.equal(await api.add(2, 3), 5)
  await assert.rejects(api.refuse(), { code: 'ECONNREFUSED' })
  await assert.rejects(api.add(1, 1), { code: 'GALLERY_DATABASE_UNAVAILABLE' })
  gate.stop()
})
