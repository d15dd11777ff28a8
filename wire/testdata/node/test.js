// node-postgres against Sluice: connection from PG* environment variables,
// DDL, parameterised queries (text protocol), errors, a cursor-free read.
const assert = require('assert');
const { Client } = require('pg');

async function main() {
  const c = new Client();
  await c.connect();
  await c.query('CREATE TABLE np (k BIGINT, v TEXT, d DOUBLE, ts TIMESTAMP(3)) APPEND ONLY');
  await c.query('CREATE MATERIALIZED VIEW npv AS SELECT k, COUNT(*) AS n FROM np GROUP BY k');
  for (let i = 0; i < 5; i++) {
    await c.query('INSERT INTO np VALUES ($1, $2, $3, $4)', [i % 2, 'v' + i, i / 2, '2026-01-02 03:04:05.5']);
  }
  await c.query('FLUSH');
  const r = await c.query('SELECT k, n FROM npv ORDER BY k');
  assert.deepStrictEqual(r.rows, [{ k: '0', n: '3' }, { k: '1', n: '2' }]);
  const one = await c.query('SELECT v, d, ts FROM np WHERE k = $1 AND v = $2', [1, 'v3']);
  assert.strictEqual(one.rows.length, 1);
  assert.strictEqual(one.rows[0].d, 1.5);
  assert.strictEqual(one.rows[0].ts.getTime() - new Date(2026, 0, 2, 3, 4, 5, 500).getTime(), 0);
  assert.strictEqual(one.fields[0].dataTypeID, 25);
  await assert.rejects(c.query('SELECT * FROM nope'), (e) => e.code === '42P01');
  const multi = await c.query('SELECT 1 AS a; SELECT 2 AS b');
  assert.strictEqual(multi.length, 2);
  await c.end();
  console.log('ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
