// bench/instructions.ts: how a callgrind profile of a server's window is split into JIT compile,
// major GC and the per-request work that the benchmark compares.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { breakdown, jsNamer } from '../../bench/instructions.ts'

// Lines as callgrind_annotate 3.19 prints them (self cost per function), trimmed
const annotated = [
  '--------------------------------------------------------------------------------',
  'Ir                     file:function',
  '--------------------------------------------------------------------------------',
  '1,010,000 (100.0%)  PROGRAM TOTALS',
  '',
  '1,010,000 (100.0%)  ./csu/../csu/libc-start.c:__libc_start_main@@GLIBC_2.34 [/usr/lib/x86_64-linux-gnu/libc.so.6]',
  '1,010,000 (100.0%)  ???:node::SpinEventLoopInternal(node::Environment*) [/x/node]',
  '  300,000 (30.00%)  ???:v8::internal::compiler::GraphReducer::ReduceTop() [/x/node]',
  '  100,000 (10.00%)  ???:v8::internal::maglev::MaglevGraphBuilder::Build() [/x/node]',
  '   50,000 ( 5.00%)  ???:v8::internal::compiler::turboshaft::Operation::Effects() const [/x/node]',
  '  120,000 (12.00%)  ???:void v8::internal::MarkingVisitorBase<v8::internal::MainMarkingVisitor>::ProcessStrongHeapObject<v8::internal::FullHeapObjectSlot>(v8::internal::Tagged<v8::internal::HeapObject>) [/x/node]',
  '   30,000 ( 3.00%)  ???:v8::internal::Sweeper::RawSweep(v8::internal::PageMetadata*) [/x/node]',
  '  200,000 (20.00%)  ???:Builtins_KeyedLoadIC_Megamorphic [/x/node]',
  '  150,000 (15.00%)  ???:0x00000000280ecf80 [???]',
  '   40,000 ( 4.00%)  ???:v8::internal::Scavenger::ScavengePage(v8::internal::MutablePageMetadata*) [/x/node]',
  '   10,000 ( 1.00%)  ???:llhttp__internal__run [/x/node]',
  '    8,000 ( 0.80%)  ???:all_values_iter_next [/x/node]',
  '    2,000 ( 0.20%)  ???:hdr_mean [/x/node]',
  ''
].join('\n')

test('breakdown splits compile, major GC and the samplers from the per-request work, per request', () => {
  const b = breakdown(annotated, 10)
  assert.equal(b.total, 101_000)
  assert.equal(b.compile, 45_000) // TurboFan, Maglev and Turboshaft
  assert.equal(b.majorGc, 15_000) // marking and sweeping; a scavenge is per-request work
  assert.equal(b.sampler, 1_000) // under-pressure's histogram summary
  assert.equal(b.work, 40_000)
  assert.deepEqual(b.top, [
    { fn: '???:Builtins_KeyedLoadIC_Megamorphic', perRequest: 20_000 },
    { fn: '???:0x00000000280ecf80', perRequest: 15_000 },
    { fn: '???:v8::internal::Scavenger::ScavengePage(v8::internal::MutablePageMetadata*)', perRequest: 4_000 },
    { fn: '???:llhttp__internal__run', perRequest: 1_000 }
  ])
})

test('breakdown keeps the frames listed with the whole window\'s cost (main, the event loop) out of the top list', () => {
  const b = breakdown(annotated, 1, 2)
  assert.equal(b.top.length, 2)
  assert.ok(b.top.every(t => !/libc_start_main|SpinEventLoop/.test(t.fn)))
})

test('breakdown refuses output without a program total', () => {
  assert.throws(() => breakdown('  10 ( 1.00%)  ???:main\n', 1), /PROGRAM TOTALS/)
})

test('jsNamer names JIT addresses from V8\'s perf map and leaves everything else as it was', () => {
  const name = jsNamer([
    '280ecc00 1a0 JS:*processHeader node:_http_outgoing:604',
    '28239d00 80 JS:^ucs2length /x/ajv/dist/runtime/ucs2length.js:7',
    '28239d00 400 JS:*parse /x/fast-querystring/lib/parse.js:13', // code written later over the same address
    'not a map line',
    ''
  ].join('\n'))
  assert.equal(name('???:0x00000000280ecc40'), '???:0x00000000280ecc40 (JS:*processHeader node:_http_outgoing:604)')
  // Inside both ranges: the later one is the code that was there last
  assert.equal(name('???:0x0000000028239d10'), '???:0x0000000028239d10 (JS:*parse /x/fast-querystring/lib/parse.js:13)')
  // Past the end of every range, and a named function: unchanged
  assert.equal(name('???:0x0000000028300000'), '???:0x0000000028300000')
  assert.equal(name('???:Builtins_KeyedLoadIC_Megamorphic'), '???:Builtins_KeyedLoadIC_Megamorphic')
})
