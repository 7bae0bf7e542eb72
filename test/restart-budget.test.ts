import { RestartBudget } from '../scripts/restart-budget';

describe("the dev stack's worker restart budget", () => {
  it("backs off 1 s, 2 s, 4 s … and refuses once the window's restarts are spent", () => {
    const budget = new RestartBudget(4, 60_000, 1000, 5000);
    expect([0, 10, 20, 30].map((t) => budget.take(t))).toEqual([
      { delayMs: 1000, restart: 1 },
      { delayMs: 2000, restart: 2 },
      { delayMs: 4000, restart: 3 },
      { delayMs: 5000, restart: 4 }, // capped
    ]);
    expect(budget.take(40)).toBeNull();
  });

  it('forgets restarts older than the window: a worker that died once a day is always restarted', () => {
    const budget = new RestartBudget(2, 60_000);
    expect(budget.take(0)).toEqual({ delayMs: 1000, restart: 1 });
    expect(budget.take(1000)).toEqual({ delayMs: 2000, restart: 2 });
    expect(budget.take(2000)).toBeNull();
    expect(budget.take(60_500)).toEqual({ delayMs: 2000, restart: 2 }); // the first one has left the window
    expect(budget.take(200_000)).toEqual({ delayMs: 1000, restart: 1 });
  });
});
