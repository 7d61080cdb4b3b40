"""The action message catalogue: every shipped message renders, and broken files are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from carebot.messages import MessageCatalogueError, load_catalogue, render

ROOT = Path(__file__).resolve().parent.parent


def test_every_shipped_message_renders_with_its_placeholders():
    for key, template in load_catalogue(ROOT / "data" / "messages").items():
        rendered = render(key, {name: f"<{name}>" for name in template.placeholders})
        assert rendered.text.strip(), key
        for name in template.placeholders:
            assert f"<{name}>" in rendered.text or any(
                f"<{name}>" in b["title"] + b["payload"] for b in rendered.buttons
            )


def test_a_missing_placeholder_value_is_an_error_not_a_half_message(tmp_path, monkeypatch):
    (tmp_path / "a.yml").write_text("messages:\n  offer: 'Book {when}?'\n")
    from carebot import messages

    monkeypatch.setattr(messages, "catalogue", lambda: load_catalogue(tmp_path))
    with pytest.raises(KeyError, match="when"):
        messages.render("offer", {})


def test_duplicate_keys_across_files_are_refused(tmp_path):
    (tmp_path / "a.yml").write_text("messages:\n  hello: Hi\n")
    (tmp_path / "b.yml").write_text("messages:\n  hello: Hello again\n")
    with pytest.raises(MessageCatalogueError, match="defined twice"):
        load_catalogue(tmp_path)


def test_buttons_need_a_title_and_a_payload(tmp_path):
    (tmp_path / "a.yml").write_text(
        "messages:\n  pick:\n    text: Pick one\n    buttons:\n      - title: One\n"
    )
    with pytest.raises(MessageCatalogueError, match="title.*payload"):
        load_catalogue(tmp_path)


def test_placeholders_fill_text_and_buttons(tmp_path, monkeypatch):
    (tmp_path / "a.yml").write_text(
        "messages:\n  offer:\n    text: 'Book {when}?'\n    buttons:\n      - {title: 'Yes, {when}', payload: /affirm}\n"
    )
    from carebot import messages

    monkeypatch.setattr(messages, "catalogue", lambda: load_catalogue(tmp_path))
    rendered = messages.render("offer", {"when": "Tuesday 10:30"})
    assert rendered.text == "Book Tuesday 10:30?"
    assert rendered.buttons == [{"title": "Yes, Tuesday 10:30", "payload": "/affirm"}]
