"""ESP fault drill: a 100,000-reader send through an ESP that fails 17% of its calls.

The fake ESP (Mailgun API, on loopback, in this process) answers 10% of calls
with a 503, 5% with a 429 and a Retry-After, and on 2% takes the message and
then stalls past the client's timeout, so the sender cannot know it went out.
A real Celery worker (2 processes) sends; the sweeper runs every few seconds.

    .venv/bin/python bench/drill_esp_faults.py       # 100,000 readers, PostgreSQL lp_drills

Targets: 0 duplicates, 0 unaccounted, and the only ambiguous readers are those
of requests that timed out after they were sent (the ESP counts them).
A figure, not a test: it prints a table and writes bench/results/drill_esp_faults-*.json.
"""

from drill_common import arguments, prepare


def timed_out_check(issue, esp) -> dict:
    """Ambiguous rows against the readers of the requests the ESP let time out."""
    from newsletter.models import Delivery

    ambiguous = set(
        Delivery.objects.filter(issue=issue, state=Delivery.State.AMBIGUOUS).values_list(
            "subscriber__email", flat=True
        )
    )
    timed_out = set(esp.timed_out)
    return {
        "timed-out requests (ESP took them, then stalled)": esp.stalled_calls,
        "readers in timed-out requests": len(timed_out),
        "ambiguous == readers in timed-out requests": ambiguous == timed_out,
        "ambiguous not in a timed-out request": len(ambiguous - timed_out),
        "in a timed-out request, not ambiguous": len(timed_out - ambiguous),
    }


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    # Faults are per call: smaller batches make more calls, so more of each fault.
    parser.set_defaults(batch_size=500)
    parser.add_argument("--error-5xx", type=float, default=0.10)
    parser.add_argument("--error-429", type=float, default=0.05)
    parser.add_argument("--timeouts", type=float, default=0.02)
    parser.add_argument("--retry-after", type=int, default=2, help="seconds, on every 429")
    args = parser.parse_args()
    _rng, drill, population = prepare(args, "drill_esp_faults")
    esp = drill.esp
    esp.faults.error_5xx, esp.faults.error_429 = args.error_5xx, args.error_429
    esp.faults.timeout, esp.faults.retry_after = args.timeouts, args.retry_after
    esp.faults.stall_seconds = args.esp_timeout + 3  # past the client's timeout
    esp._random.seed(args.seed)
    injected = {"5xx": args.error_5xx, "429": args.error_429, "timeouts": args.timeouts}
    try:
        wall = drill.run()
        figures = drill.figures(
            population,
            wall,
            **timed_out_check(drill.issue, esp),
            **{"5xx answers": esp.responses[503], "429 answers": esp.responses[429]},
        )
        header = {"faults injected": injected, "retry-after (s)": args.retry_after}
        drill.report("ESP fault drill", figures, header=header)
    finally:
        drill.stop()


if __name__ == "__main__":
    main()
