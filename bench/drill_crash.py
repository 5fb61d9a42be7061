"""Crash drill: a 100,000-reader send survives three SIGKILLed workers and a Redis restart.

A real Celery worker (2 processes) sends through the fake ESP (Mailgun API, on
loopback, in this process). While it sends, the worker's whole process group
is SIGKILLed three times at random moments and restarted a second later, and
the drill's own Redis (broker, cache, send-rate bucket; no persistence, so
every queued task is lost) is killed and restarted once. The sweeper runs
every few seconds, as beat would, with its thresholds shortened: a batch is
"lost" after --lost-after seconds without progress, a row is "stuck" after the
drill's task time limit (60 s) plus 15 s.

    .venv/bin/python bench/drill_crash.py            # 100,000 readers, PostgreSQL lp_drills

Targets: 0 duplicates, 0 unaccounted, ambiguous at most one batch per kill.
A figure, not a test: it prints a table and writes bench/results/drill_crash-*.json.
"""

from drill_common import arguments, prepare


class Chaos:
    """Kills the worker at random points of the send and restarts Redis once.

    Points are drawn as fractions of the readers received by the ESP, plus a
    random delay of up to a second and a half, so a kill lands anywhere in a
    batch's life: claiming, waiting for the send rate, at the ESP, recording.
    """

    def __init__(self, rng, readers: int, kills: int, restart_down: float):
        self.rng, self.readers, self.restart_down = rng, readers, restart_down
        points = sorted(rng.uniform(0.03, 0.9) for _ in range(kills + 1))
        redis_at = rng.randrange(len(points))
        self.plan = [("redis" if i == redis_at else "kill", p) for i, p in enumerate(points)]
        self.armed: tuple[str, float] | None = None  # (action, when)
        self.kills: list[dict] = []

    def __call__(self, drill) -> None:
        if self.armed and drill.elapsed() >= self.armed[1]:
            action, self.armed = self.armed[0], None
            self.act(drill, action)
        if self.armed or not self.plan:
            return
        action, fraction = self.plan[0]
        if len(drill.esp.counts) >= fraction * self.readers:
            self.plan.pop(0)
            self.armed = (action, drill.elapsed() + self.rng.uniform(0, 1.5))

    def act(self, drill, action: str) -> None:
        if action == "redis":
            drill.note("redis killed", received=len(drill.esp.counts))
            drill.redis.restart(down=self.restart_down)
            drill.note("redis back (empty)")
            return
        drill.worker.kill()
        held = drill.in_flight()
        self.kills.append({"at": round(drill.elapsed(), 1), **held})
        drill.note("worker SIGKILLed", received=len(drill.esp.counts), **held)
        drill.worker.start()
        drill.note("worker restarted")


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--redis-down", type=float, default=2.0, help="seconds Redis is away")
    args = parser.parse_args()
    rng, drill, population = prepare(args, "drill_crash")
    chaos = Chaos(rng, args.readers, args.kills, args.redis_down)
    try:
        wall = drill.run(hooks=[chaos])
        figures = drill.figures(population, wall, **{"worker kills": len(chaos.kills)})
        drill.report("Crash drill", figures, details={"kills": chaos.kills})
    finally:
        drill.stop()


if __name__ == "__main__":
    main()
