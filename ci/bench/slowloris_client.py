#!/usr/bin/env python3
"""Slowloris clients for ci/bench/slowloris.sh and ci/soak.sh.

Keeps N connections open to 127.0.0.1:PORT, each trickling a request head one byte every
INTERVAL seconds and never finishing it. When the server closes one, its lifetime is recorded
and a new one is opened. Runs for DURATION seconds, then prints one JSON line:
{"connections": opened, "closed": closed by the server, "max_lifetime_s": ..., "p99_lifetime_s": ...,
 "open_at_end": ...}.

usage: slowloris_client.py PORT N DURATION [INTERVAL]
"""

import asyncio
import json
import sys
import time

HEAD = b"GET /slowloris HTTP/1.1\r\nHost: t\r\nUser-Agent: slowloris\r\n" + b"X-a: b\r\n" * 1000


async def one(port, interval, stop_at, stats):
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        stats["connections"] += 1
        closed = False
        try:
            for b in HEAD:
                if time.monotonic() >= stop_at:
                    break
                writer.write(bytes([b]))
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=interval)
                    if not data:
                        closed = True
                        break
                except asyncio.TimeoutError:
                    pass
        except (ConnectionError, OSError):
            closed = True
        if closed:
            stats["closed"] += 1
            stats["lifetimes"].append(time.monotonic() - started)
        else:
            stats["open_at_end"] += 1
        writer.close()


async def main():
    port, n, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    stats = {"connections": 0, "closed": 0, "lifetimes": [], "open_at_end": 0}
    stop_at = time.monotonic() + duration
    # Spread the connection opens over a second so the accept queue is not the test.
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one(port, interval, stop_at, stats)))
        if i % 50 == 49:
            await asyncio.sleep(0.1)
    await asyncio.gather(*tasks)
    lt = sorted(stats.pop("lifetimes"))
    stats["max_lifetime_s"] = round(lt[-1], 2) if lt else None
    stats["p99_lifetime_s"] = round(lt[int(len(lt) * 0.99) - 1], 2) if lt else None
    print(json.dumps(stats))


if __name__ == "__main__":
    asyncio.run(main())
