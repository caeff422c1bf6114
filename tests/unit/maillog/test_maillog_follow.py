"""The follower: whole lines only, rotation, copytruncate, restarts, odd lines counted."""

from __future__ import annotations

import json
import os

from privacy_milter.maillog.follow import FilePositionStore, MemoryPositionStore

from maillog_helpers import RECORDED, SMTP_ONLY, follower, rows

LINES = RECORDED.splitlines(keepends=True)


def all_rows(data: bytes, tmp_path) -> list[tuple]:
    path = tmp_path / "whole.log"
    path.write_bytes(data)
    return rows(follower(path, MemoryPositionStore()).poll())


def test_the_log_cut_at_every_byte_gives_the_same_deliveries(tmp_path):
    expected = all_rows(SMTP_ONLY, tmp_path)
    assert len(expected) == 14
    path = tmp_path / "maillog"
    for cut in range(len(SMTP_ONLY) + 1):
        path.write_bytes(SMTP_ONLY[:cut])
        f = follower(path, MemoryPositionStore())
        got = f.poll()
        with open(path, "ab") as out:
            out.write(SMTP_ONLY[cut:])
        got += f.poll()
        assert rows(got) == expected, cut
        assert f.stats.unparsed == 0, cut
        f.close()


def test_reads_are_bounded_per_poll_and_lose_nothing(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes(RECORDED)
    f = follower(path, MemoryPositionStore(), max_bytes=700)
    got, polls = [], 0
    while polls < 1000:
        polls += 1
        batch = f.poll()
        got += batch
        if f._offset == len(RECORDED):
            break
    assert rows(got) == all_rows(RECORDED, tmp_path)
    assert polls >= len(RECORDED) // 700


def test_rotation_by_rename_mid_stream_with_a_session_spanning_the_two_files(tmp_path):
    path = tmp_path / "mail.log"
    # cut between the dane TLS line (line 0 of SMTP_ONLY) and its delivery line
    smtp = SMTP_ONLY.splitlines(keepends=True)
    path.write_bytes(b"".join(smtp[:1]))
    f = follower(path, MemoryPositionStore())
    assert f.poll() == []
    with open(path, "ab") as out:            # written to the old file after our poll...
        out.write(b"".join(smtp[1:5]))
    os.rename(path, tmp_path / "mail.log.1")  # ...then rotated, and a new file begun
    path.write_bytes(b"".join(smtp[5:]))
    got = f.poll()
    assert rows(got) == all_rows(SMTP_ONLY, tmp_path)
    assert f.stats.rotations == 1
    with open(path, "ab") as out:
        out.write(smtp[1])                   # the new file keeps being followed
    assert [d.queue_id for d in f.poll()] == ["AE3042101B0"]


def test_copytruncate_even_when_the_new_content_outgrows_the_old_offset(tmp_path):
    path = tmp_path / "mail.log"
    smtp = SMTP_ONLY.splitlines(keepends=True)
    path.write_bytes(b"".join(smtp[:2]))
    f = follower(path, MemoryPositionStore())
    assert [d.queue_id for d in f.poll()] == ["AE3042101B0"]
    with open(path, "r+b") as out:           # copytruncate, then Postfix writes on
        out.truncate(0)
    with open(path, "ab") as out:
        out.write(b"".join(smtp[2:]))
    got = f.poll()
    assert rows(got) == all_rows(b"".join(smtp[2:]), tmp_path)
    assert f.stats.truncations == 1


def test_a_restart_resumes_at_the_saved_position_without_double_counting(tmp_path):
    path = tmp_path / "mail.log"
    state = tmp_path / "state" / "maillog.json"
    state.parent.mkdir()
    smtp = SMTP_ONLY.splitlines(keepends=True)
    path.write_bytes(b"".join(smtp[:1]))     # a TLS line, its delivery not yet written
    first = follower(path, FilePositionStore(state))
    assert first.poll() == []
    first.close()
    saved = json.loads(state.read_text())
    assert saved["offset"] == len(smtp[0]) and saved["sessions"]
    assert not [p for p in state.parent.iterdir() if p.name != state.name]   # no temp left
    with open(path, "ab") as out:
        out.write(b"".join(smtp[1:]))
    second = follower(path, FilePositionStore(state))
    got = second.poll()
    assert rows(got) == all_rows(SMTP_ONLY, tmp_path)   # dane delivery still verified
    third = follower(path, FilePositionStore(state))
    assert third.poll() == []


def test_a_restart_after_a_rotation_while_down_finishes_the_old_file_first(tmp_path):
    path = tmp_path / "mail.log"
    state = FilePositionStore(tmp_path / "pos.json")
    smtp = SMTP_ONLY.splitlines(keepends=True)
    path.write_bytes(b"".join(smtp[:3]))
    f = follower(path, state)
    assert len(f.poll()) == 2
    f.close()
    with open(path, "ab") as out:
        out.write(b"".join(smtp[3:8]))
    os.rename(path, tmp_path / "mail.log.1")
    path.write_bytes(b"".join(smtp[8:]))
    got = follower(path, state).poll()
    assert rows(got) == all_rows(SMTP_ONLY, tmp_path)[2:]


def test_without_a_commit_a_restart_reads_the_same_lines_again(tmp_path):
    path = tmp_path / "mail.log"
    path.write_bytes(SMTP_ONLY)
    store = MemoryPositionStore()
    assert len(follower(path, store).poll(commit=False)) == 14
    f = follower(path, store)
    assert len(f.poll(commit=False)) == 14
    f.commit()
    assert follower(path, store).poll() == []


def test_garbage_binary_and_overlong_lines_are_counted_and_skipped(tmp_path):
    path = tmp_path / "mail.log"
    smtp = SMTP_ONLY.splitlines(keepends=True)
    junk = [b"\x00\x01\x02\xff binary\n", b"not a log line\n", b"x" * 5000 + b"\n",
            b"Dec 02 19:27:36 mx postfix/smtp[1]: \xff\xfe\n"]
    path.write_bytes(b"".join(junk[:2]) + b"".join(smtp[:2]) + b"".join(junk[2:]) + b"".join(smtp[2:]))
    f = follower(path, MemoryPositionStore(), max_line=1024, max_bytes=2048)
    got = []
    for _ in range(50):
        got += f.poll()
    assert rows(got) == all_rows(SMTP_ONLY, tmp_path)
    assert f.stats.unparsed == 4


def test_a_missing_log_file_is_waited_for(tmp_path):
    path = tmp_path / "mail.log"
    f = follower(path, MemoryPositionStore())
    assert f.poll() == []
    path.write_bytes(SMTP_ONLY)
    assert len(f.poll()) == 14


def test_a_damaged_state_file_means_reading_afresh(tmp_path):
    state = tmp_path / "pos.json"
    state.write_text("{not json")
    assert FilePositionStore(state).load() is None
    path = tmp_path / "mail.log"
    path.write_bytes(SMTP_ONLY)
    assert len(follower(path, FilePositionStore(state)).poll()) == 14
    assert FilePositionStore(state).load() is not None


def test_a_first_start_may_begin_at_the_end_of_an_existing_log(tmp_path):
    path = tmp_path / "mail.log"
    smtp = SMTP_ONLY.splitlines(keepends=True)
    path.write_bytes(b"".join(smtp[:3]) + smtp[3][:20])      # history, and a line being written
    f = follower(path, MemoryPositionStore(), from_start=False)
    assert f.poll() == []
    with open(path, "ab") as out:                 # the line being written is read whole
        out.write(smtp[3][20:] + b"".join(smtp[4:6]))
    assert rows(f.poll()) == [("E7B5B2101B0", "sts.e2e.test", "verified", "sent", None)]
    assert f.stats.unparsed == 0


def test_a_rotated_candidate_that_is_not_ours_is_never_read(tmp_path):
    path = tmp_path / "mail.log"
    store = MemoryPositionStore()
    path.write_bytes(SMTP_ONLY)
    f = follower(path, store)
    assert len(f.poll()) == 14
    f.close()
    os.rename(path, tmp_path / "elsewhere.log")             # our file is gone for good...
    (tmp_path / "mail.log.1").write_bytes(SMTP_ONLY)        # ...and .1 is someone else's
    g = follower(path, store)
    assert g.poll() == []                                   # nothing to follow yet
    path.write_bytes(b"".join(SMTP_ONLY.splitlines(keepends=True)[:2]))
    assert [d.queue_id for d in g.poll()] == ["AE3042101B0"]


def test_an_idle_poll_does_not_rewrite_the_state_file(tmp_path):
    path = tmp_path / "mail.log"
    path.write_bytes(SMTP_ONLY)
    state = tmp_path / "pos.json"
    f = follower(path, FilePositionStore(state))
    f.poll()
    before = state.stat().st_mtime_ns, state.stat().st_ino
    f.poll()
    assert (state.stat().st_mtime_ns, state.stat().st_ino) == before
