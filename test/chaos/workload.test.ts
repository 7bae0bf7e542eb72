import { randomUUID } from 'node:crypto';
import { shardOfOwner, withShard } from '../../domain/shards';
import { ShardLayout } from '../../scripts/chaos/layout';
import { customerOwners, databasesOf, routeOf } from '../../scripts/chaos/workload';

describe('chaos workload: where its customers and transfers land', () => {
  const layout = new ShardLayout(2);

  it('places customers round-robin on the databases, some pairs on one logical shard', () => {
    const owners = customerOwners(layout, 12);
    expect(owners.map((o) => layout.databaseOfOwner(o))).toEqual(Array.from({ length: 12 }, (_, i) => `db-${i % 2}`));
    const shards = owners.map(shardOfOwner);
    // every third round shares the shard of the round before it: customers 2 and 3 (of 0 and 1), 8 and 9 (of 6 and 7)
    const sharing = shards.flatMap((s, i) => shards.slice(0, i).flatMap((t, j) => (s === t ? [[j, i]] : [])));
    expect(sharing).toEqual([
      [0, 2],
      [1, 3],
      [6, 8],
      [7, 9],
    ]);
    expect(customerOwners(layout, 12)).toEqual(owners); // the same bank every run
  });

  it('names the route and the databases of a transfer from its wallet ids', () => {
    const [a, b, c, d] = [3, 3, 100, 700].map((shard) => withShard(randomUUID(), shard)) as [
      string,
      string,
      string,
      string,
    ];
    expect([routeOf(layout, a, b), routeOf(layout, a, c), routeOf(layout, a, d), routeOf(layout, d, a)]).toEqual([
      'same-shard',
      'cross-shard',
      'cross-database',
      'cross-database',
    ]);
    expect(databasesOf(layout, a, c)).toEqual(['db-0', 'accounting']);
    expect(databasesOf(layout, d, a)).toEqual(['db-1', 'db-0', 'accounting']);
  });

  it('spells its shard map as SHARD_MAP does', () => {
    expect(new ShardLayout(1).shardMapText()).toBe('0-1023:0');
    expect(new ShardLayout(3).shardMapText()).toBe('0-341:0,342-682:1,683-1023:2');
  });
});
