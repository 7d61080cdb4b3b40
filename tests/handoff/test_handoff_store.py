"""The handoff store on SQLite and (with TEST_POSTGRES_URL) PostgreSQL: one open case per conversation, one winner."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from handoff_harness import database_urls, engine_for

from carebot.handoff.model import AlreadyResolved, CaseNotFound, Delivery, EventKind, Reason
from carebot.handoff.store import HandoffStore

NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=database_urls())
def store(request, tmp_path):
    engine = engine_for(request.param, tmp_path)
    yield HandoffStore(engine)
    engine.dispose()


def test_a_second_trigger_appends_to_the_open_case(store):
    first, created = store.open_case(
        "+447700900001", "+447700900001", Reason.ASKED_FOR_HUMAN, "hi\nhuman please", NOW
    )
    again, created_again = store.open_case("+447700900001", "+447700900001", Reason.MEDIA, "[photo]", NOW)
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.reason is Reason.ASKED_FOR_HUMAN
    assert [c.id for c in store.list_open()] == [first.id]
    [note] = store.events(first.id)
    assert (note.kind, note.author) == (EventKind.NOTE, "carebot")
    assert note.text == "Handoff requested again: sent a photo or document.\n[photo]"


def test_each_conversation_gets_its_own_case_longest_waiting_first(store):
    later = NOW + dt.timedelta(minutes=5)
    b, _ = store.open_case("conv-b", "+447700900002", Reason.TRIAGE_CALLBACK, "", later)
    a, _ = store.open_case("conv-a", "+447700900001", Reason.REPEATED_FALLBACK, "", NOW)
    assert [c.id for c in store.list_open()] == [a.id, b.id]
    assert store.get(a.id).created_at == NOW


def test_patient_messages_go_to_the_open_case_only(store):
    assert store.append_patient_message("conv-a", "hello?", NOW) is None
    case, _ = store.open_case("conv-a", "+447700900001", Reason.ASKED_FOR_HUMAN, "", NOW)
    assert store.append_patient_message("conv-a", "still there?", NOW).id == case.id
    [event] = store.events(case.id)
    assert (event.kind, event.author, event.text) == (EventKind.PATIENT_MESSAGE, "patient", "still there?")


def test_resolve_once_then_a_new_trigger_opens_a_new_case(store):
    case, _ = store.open_case("conv-a", "+447700900001", Reason.ASKED_FOR_HUMAN, "", NOW)
    resolved = store.resolve(case.id, "alice", NOW + dt.timedelta(minutes=3))
    assert (resolved.status, resolved.resolved_by) == ("resolved", "alice")
    with pytest.raises(AlreadyResolved) as lost:
        store.resolve(case.id, "bob", NOW + dt.timedelta(minutes=4))
    assert lost.value.case.resolved_by == "alice"
    assert str(lost.value) == f"case {case.id} was already resolved by alice"
    assert store.open_case_for("conv-a") is None
    fresh, created = store.open_case("conv-a", "+447700900001", Reason.MEDIA, "", NOW + dt.timedelta(hours=1))
    assert created and fresh.id != case.id
    assert [e.kind for e in store.events(case.id)] == [EventKind.RESOLVED]


def test_concurrent_triggers_and_resolves_keep_the_invariants(store):
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda reason: store.open_case("conv-x", "+447700900009", reason, "", NOW), list(Reason) * 2
            )
        )
    assert sum(created for _, created in results) == 1
    assert len({case.id for case, _ in results}) == 1
    case_id = results[0][0].id

    def resolve(staff):
        try:
            return store.resolve(case_id, staff, NOW).resolved_by
        except AlreadyResolved as error:
            return f"lost to {error.case.resolved_by}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(resolve, ["alice", "bob", "carol", "dan"]))
    winners = [o for o in outcomes if not o.startswith("lost")]
    assert len(winners) == 1
    assert outcomes.count(f"lost to {winners[0]}") == 3
    assert [e.kind for e in store.events(case_id)].count(EventKind.RESOLVED) == 1


def test_events_record_who_when_and_delivery(store):
    case, _ = store.open_case("conv-a", "+447700900001", Reason.ASKED_FOR_HUMAN, "", NOW)
    store.add_event(case.id, EventKind.STAFF_REPLY, "alice", "We'll call you at 3", NOW, Delivery.SENT)
    store.add_event(case.id, EventKind.NOTE, "bob", "called, no answer", NOW + dt.timedelta(seconds=1))
    reply, note = store.events(case.id)
    assert (reply.author, reply.delivery_status, reply.at) == ("alice", Delivery.SENT, NOW)
    assert (note.author, note.delivery_status, note.text) == ("bob", None, "called, no answer")
    with pytest.raises(CaseNotFound):
        store.add_event(9999, EventKind.NOTE, "bob", "x", NOW)


def test_long_transcripts_keep_their_most_recent_end(store):
    transcript = "old " * 2000 + "the latest line"
    case, _ = store.open_case("conv-a", "+447700900001", Reason.ASKED_FOR_HUMAN, transcript, NOW)
    assert case.transcript.endswith("the latest line") and len(case.transcript) == 4000
