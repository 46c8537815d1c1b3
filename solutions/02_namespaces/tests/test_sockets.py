"""Tests of the chat's sockets, in process, with Flask-SocketIO's test client.

`python -m pytest tests` in this folder runs them against your app. The grader runs them against
its reference app, where every test must pass, and then against broken copies of it: each
broken copy must make at least one test fail (lesson text, "Exercise 2.9").
"""

CHAT, NOTIFICATIONS = "/chat", "/notifications"


# Goal: tests (functions named test_...) that pass on a correct app and fail when: a connect
# without a token, or with an unknown one, is accepted; send_message is not acknowledged with
# the stored message's id; a message misses its sender or another client, or carries the wrong
# sender; a chat message reaches /notifications.
# Constraint: only the fixtures of conftest.py, in this process, no server; a refusal test
# proves nothing unless a correct client is accepted. (make hint EX=2.9 if you are stuck.)
# Exercise 2.9: test refusals, acknowledgements, broadcasts and namespaces in process.
### BEGIN SOLUTION
def test_a_connect_without_a_token_is_refused(connect):
    assert not connect(None).is_connected(CHAT)
    assert not connect({}).is_connected(CHAT)


def test_an_unknown_token_is_refused(connect):
    assert not connect({"token": "not-a-token"}).is_connected(CHAT)


def test_a_known_token_is_accepted(signed_in):
    assert signed_in("alice").is_connected(CHAT)  # so the refusals above are not everyone's


def test_send_message_is_acknowledged_with_the_stored_id(signed_in):
    alice = signed_in("alice")
    ack = alice.emit("send_message", {"text": "hello"}, namespace=CHAT, callback=True)
    assert ack["ok"] is True
    history = alice.emit("get_history", namespace=CHAT, callback=True)
    assert [m["id"] for m in history["messages"]] == [ack["id"]]


def test_a_message_reaches_its_sender_and_the_others_with_its_sender(signed_in, received):
    alice = signed_in("alice")
    bob = signed_in("bob")  # connects last: a name kept on the namespace object would be his
    alice.emit("send_message", {"text": "hi bob"}, namespace=CHAT)
    for client in (alice, bob):
        messages = received(client, CHAT, "message")
        assert [(m["user"], m["text"]) for m in messages] == [("alice", "hi bob")]


def test_chat_messages_stay_on_chat(signed_in, received):
    alice = signed_in("alice", CHAT, NOTIFICATIONS)
    received(alice, NOTIFICATIONS, "notice")  # empty the inbox: the join notice
    alice.emit("send_message", {"text": "only for /chat"}, namespace=CHAT)
    assert alice.get_received(NOTIFICATIONS) == []
    assert len(received(alice, CHAT, "message")) == 1


### END SOLUTION
