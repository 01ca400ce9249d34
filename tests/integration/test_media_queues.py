"""Audio and video on their own queue, and each key's video and audio conversions at once:
two real API processes, real workers and one real Redis, with submissions sent from several
processes at once.

Whether a media job itself succeeds does not matter here (ffmpeg's conversions are tested
where they are written): these tests look at the queue a job waits on, the worker that takes
it, and the slots its key holds in Redis.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from redis import Redis
from rq import Queue

from tests.helpers import (
    ADMIN_KEY,
    kill_tree,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_for_end,
    wait_until,
)

OCR_QUEUE, MEDIA_QUEUE = "lector", "lector-media"
CONVERT = "/api/convert-file-async"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    """A one-second WAV tone and a one-second 64×64 MP4, made by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is not installed: `make system-packages` installs it"
    work = tmp_path_factory.mktemp("media")
    made = {
        "tone.wav": ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"],
        "clip.mp4": ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", "-pix_fmt", "yuv420p"],
    }
    for name, args in made.items():
        command = [ffmpeg, "-nostdin", "-loglevel", "error", "-threads", "1", *args, str(work / name)]
        subprocess.run(command, check=True, timeout=60)
    return {name: (work / name).read_bytes() for name in made}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> bytes:
    """Two minutes of 640×360 video, which takes a worker a few seconds to convert: long
    enough to be caught running."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    source = ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=10:duration=120", "-pix_fmt", "yuv420p"]
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-threads", "1"]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", *source, *encode, str(path)], check=True, timeout=60
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A Redis and two API processes sharing it; workers are started by the tests that need them."""
    work = tmp_path_factory.mktemp("media-queues")
    redis_process, redis_url = start_redis(work)
    servers = [start_server(work, LECTOR_REDIS_URL=redis_url, LECTOR_ADMIN_KEY=ADMIN_KEY) for _ in range(2)]
    yield work, redis_url, servers
    for server in servers:
        server.stop()
    stop_process(redis_process)


@pytest.fixture(scope="module")
def redis(stack) -> Iterator[Redis]:
    client = Redis.from_url(stack[1])
    yield client
    client.close()


@contextmanager
def worker(stack, *flags: str) -> Iterator[None]:
    """A real ``lector worker`` with ``flags`` while the block runs."""
    work, redis_url, _ = stack
    process = start_worker(work, redis_url, *flags)
    try:
        yield
    finally:
        stop_process(process)


def new_key(stack, **spec) -> tuple[str, str]:
    """A managed key made through the admin API: (key, key id)."""
    made = httpx.post(
        f"{stack[2][0].url}/admin/keys", json={"name": "media", **spec}, headers={"X-API-Key": ADMIN_KEY}
    )
    assert made.status_code == 201, made.text
    return made.json()["key"], made.json()["key_id"]


def as_key(server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def convert(client: httpx.Client, name: str, data: bytes, target: str) -> httpx.Response:
    return client.post(CONVERT, files={"file": (name, data)}, data={"target_format": target})


def queued(redis: Redis, queue: str) -> set[str]:
    """The job ids waiting on an RQ queue."""
    return set(Queue(queue, connection=redis).get_job_ids())


def slots(redis: Redis, key_id: str, kind: str) -> set[str]:
    """The holders of a key's slots of ``kind`` in Redis."""
    return {member.decode() for member in redis.zrange(f"lector:slots:{key_id}:{kind}", 0, -1)}


def _submit_at_once(job: tuple[str, str, bytes, int]) -> list[tuple[int, dict]]:
    """In its own process: ``count`` video submissions to one server at once, on threads."""
    url, key, clip, count = job
    with (
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
        ThreadPoolExecutor(count) as threads,
    ):
        answers = list(threads.map(lambda _: convert(client, "clip.mp4", clip, "webm"), range(count)))
    return [(answer.status_code, answer.json()) for answer in answers]


def test_media_waits_on_its_own_queue_which_an_ocr_worker_does_not_take(stack, redis, media, docs):
    key, key_id = new_key(stack)
    with as_key(stack[2][0], key) as client:
        image = convert(client, "page.png", docs["page.png"].read_bytes(), "jpg")
        video = convert(client, "clip.mp4", media["clip.mp4"], "webm")
        audio = convert(client, "tone.wav", media["tone.wav"], "mp3")
        answers = [image, video, audio]
        assert [answer.status_code for answer in answers] == [202] * 3, [a.text for a in answers]
        image_id, video_id, audio_id = (answer.json()["conversion_id"] for answer in answers)

        assert image_id in queued(redis, OCR_QUEUE) and image_id not in queued(redis, MEDIA_QUEUE)
        assert {video_id, audio_id} <= queued(redis, MEDIA_QUEUE)
        assert not {video_id, audio_id} & queued(redis, OCR_QUEUE)
        assert slots(redis, key_id, "video") == {video_id} and slots(redis, key_id, "audio") == {audio_id}

        with worker(stack, "--queues", "ocr"):
            assert wait_for_end(client, image_id)["status"] == "SUCCESS"
            # The OCR worker was free all along, and left both media jobs waiting.
            for media_id in (video_id, audio_id):
                status = client.get(f"/api/convert-async/status/{media_id}", params={"wait": 2}).json()
                assert status["status"] == "ENQUEUED", status
            assert {video_id, audio_id} <= queued(redis, MEDIA_QUEUE)

        with worker(stack, "--queues", "media"):
            for media_id in (video_id, audio_id):
                assert wait_for_end(client, media_id)["status"] == "SUCCESS"
        assert not queued(redis, MEDIA_QUEUE)
        # Each slot was freed when its job ended.
        assert slots(redis, key_id, "video") == set() and slots(redis, key_id, "audio") == set()


def test_the_video_limit_holds_across_processes_and_its_slots_come_back(stack, redis, media):
    key, key_id = new_key(stack, video_concurrency=2)
    servers = stack[2]
    # Four processes, each sending five at once, to both API processes: twenty at once.
    jobs = [(servers[index % 2].url, key, media["clip.mp4"], 5) for index in range(4)]
    with ProcessPoolExecutor(4) as pool:
        answers = [answer for answers in pool.map(_submit_at_once, jobs) for answer in answers]
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] * 2 + [429] * 18, statuses
    taken = {body["conversion_id"] for status, body in answers if status == 202}
    assert slots(redis, key_id, "video") == taken and taken <= queued(redis, MEDIA_QUEUE)
    refusal = next(body for status, body in answers if status == 429)
    assert refusal == {
        "success": False,
        "message": "Concurrency limit reached: this API key may have 2 video conversions queued or "
        "running at once; send this one when one of them has ended.",
        "error": "Concurrency limit exceeded",
        "limitType": "video_concurrency",
        "limit": 2,
        "remaining": 0,
        "resetTime": None,
        "retryAfter": None,
    }

    with as_key(servers[1], key) as client:
        # A refusal took nothing: only the two taken in count as requests.
        assert client.get("/api/account").json()["today"]["requests"] == 2
        # Audio has its own slots (the install's default, 40).
        assert convert(client, "tone.wav", media["tone.wav"], "mp3").status_code == 202
        over = convert(client, "clip.mp4", media["clip.mp4"], "webm")
        assert (over.status_code, over.json()["limitType"]) == (429, "video_concurrency")
        assert "retry-after" not in over.headers

        with worker(stack, "--queues", "media"):
            for conversion_id in taken:
                wait_for_end(client, conversion_id)
        assert slots(redis, key_id, "video") == set()
        again = [convert(client, "clip.mp4", media["clip.mp4"], "webm").status_code for _ in range(3)]
        assert again == [202, 202, 429]


def test_a_batch_takes_a_slot_per_media_item_or_none(stack, redis, media, docs):
    key, key_id = new_key(stack, video_concurrency=2)
    with as_key(stack[2][0], key) as client:
        clips = [("files", (f"clip{index}.mp4", media["clip.mp4"])) for index in range(3)]
        refused = client.post("/api/batches/", files=clips, data={"document_type_code": "text"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["message"] == (
            "Concurrency limit exceeded: the request holds 3 video conversions, and this API key may "
            "have 2 queued or running at once (0 now)."
        )
        assert slots(redis, key_id, "video") == set()

        mixed = [
            ("files", ("page.png", docs["page.png"].read_bytes())),
            ("files", ("clip.mp4", media["clip.mp4"])),
            ("files", ("tone.wav", media["tone.wav"])),
        ]
        created = client.post("/api/batches/", files=mixed, data={"document_type_code": "text"})
        assert created.status_code == 202, created.text
        items = client.get(f"/api/batches/{created.json()['batch_id']}").json()["items"]
        image_id, video_id, audio_id = (item["conversion_id"] for item in items)
        assert image_id in queued(redis, OCR_QUEUE)
        assert {video_id, audio_id} <= queued(redis, MEDIA_QUEUE)
        assert slots(redis, key_id, "video") == {video_id} and slots(redis, key_id, "audio") == {audio_id}


def test_a_sync_conversion_holds_a_slot_while_it_runs_and_is_refused_past_the_limit(stack, redis, media):
    key, key_id = new_key(stack, audio_concurrency=1)
    with as_key(stack[2][1], key) as client:
        answer = client.post("/api/convert-file", files={"file": ("tone.wav", media["tone.wav"])},
                             data={"target_format": "mp3"})  # fmt: skip
        assert answer.status_code == 200 and answer.content.startswith((b"ID3", b"\xff\xfb")), answer.text
        assert slots(redis, key_id, "audio") == set()  # freed when the request ended

        assert convert(client, "tone.wav", media["tone.wav"], "mp3").status_code == 202  # now queued
        full = client.post("/api/convert-file", files={"file": ("tone.wav", media["tone.wav"])},
                           data={"target_format": "mp3"})  # fmt: skip
        assert (full.status_code, full.json()["limitType"]) == (429, "audio_concurrency")


def test_a_slot_held_by_a_worker_that_died_is_freed_once_when_its_job_ends(stack, redis, long_clip, media):
    key, key_id = new_key(stack, video_concurrency=1)
    work, redis_url, servers = stack
    with as_key(servers[0], key) as client:
        submitted = convert(client, "long.mp4", long_clip, "mkv")
        assert submitted.status_code == 202, submitted.text
        conversion_id = submitted.json()["conversion_id"]
        first = start_worker(work, redis_url, "--queues", "media")
        try:
            url = f"/api/convert-async/status/{conversion_id}"
            wait_until(lambda: client.get(url).json()["status"] == "PROCESSING", 60, "the job to start")
            kill_tree(first.pid)  # the worker, its work horse and ffmpeg, as when the machine dies
            first.wait(timeout=10)
        finally:
            stop_process(first)
        # The job has not ended: its slot stays taken, and the key's one video slot is full.
        assert client.get(url).json()["status"] in ("PROCESSING", "ENQUEUED")
        assert slots(redis, key_id, "video") == {conversion_id}
        assert convert(client, "clip.mp4", media["clip.mp4"], "webm").status_code == 429

        with worker(stack, "--queues", "media"):  # finds the job abandoned and runs it again
            assert wait_for_end(client, conversion_id, timeout=120)["status"] == "SUCCESS"
        assert slots(redis, key_id, "video") == set()
        # Freed once: the key's one slot is there again, and only one.
        again = [convert(client, "clip.mp4", media["clip.mp4"], "webm").status_code for _ in range(2)]
        assert again == [202, 429]
