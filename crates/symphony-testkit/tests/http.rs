//! The loopback server against a raw client, so what it writes is checked byte for byte:
//! a whole answer, a chunked one with its pauses, what it records of a request, and its
//! in-flight count.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::time::{Duration, Instant};

use serde_json::json;
use symphony_testkit::http::{nothing_listens, sse, End, Reply, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` and reads the whole answer, until the server closes the connection.
async fn exchange(server: &Server, request: &str) -> String {
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_whole_answer_and_the_request_it_recorded() {
    let server = Server::start(|n, r| {
        Reply::json(201, json!({"n": n, "got": r.body["q"]})).with_header("X-Trace", "t1")
    })
    .await;
    let body = r#"{"q": "rivers"}"#;
    let answer = exchange(
        &server,
        &format!(
            "POST /v1/ask?x=1 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer k\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(
        answer,
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Trace: t1\r\nContent-Length: 22\r\nConnection: close\r\n\r\n{\"got\":\"rivers\",\"n\":0}"
    );
    let recorded = &server.requests()[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1/ask?x=1");
    assert_eq!(recorded.headers["authorization"], "Bearer k");
    assert_eq!(recorded.text, body);
    assert_eq!(recorded.body, json!({"q": "rivers"}));
    assert_eq!(recorded.server, server.addr);
}

#[tokio::test]
async fn a_stream_is_written_chunk_by_chunk_with_its_pauses() {
    let chunks = vec![sse(&json!({"a": 1})), sse(&json!({"b": 2}))];
    let server = Server::always(Reply::stream(chunks).paced(50)).await;
    let begun = Instant::now();
    let answer = exchange(&server, "GET / HTTP/1.1\r\n\r\n").await;
    assert!(begun.elapsed() >= Duration::from_millis(100), "two pauses");
    assert_eq!(
        answer,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         f\r\ndata: {\"a\":1}\n\n\r\nf\r\ndata: {\"b\":2}\n\n\r\n0\r\n\r\n"
    );
    // Cut short: no terminating chunk.
    let server =
        Server::always(Reply::chunked(502, "text/plain", vec!["half".into()]).ending(End::Cut))
            .await;
    let answer = exchange(&server, "GET / HTTP/1.1\r\n\r\n").await;
    assert!(answer.ends_with("\r\n\r\n4\r\nhalf\r\n"), "{answer:?}");
    assert!(
        answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn requests_in_flight_are_counted_and_a_hung_one_until_the_client_leaves() {
    let server = Server::sequence(vec![
        Reply::After(200, Box::new(Reply::text(200, "text/plain", "slow"))),
        Reply::text(200, "text/plain", "quick"),
        Reply::Hang,
    ])
    .await;
    let (slow, quick) = tokio::join!(exchange(&server, "GET /1 HTTP/1.1\r\n\r\n"), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        exchange(&server, "GET /2 HTTP/1.1\r\n\r\n").await
    });
    assert!(slow.ends_with("slow") && quick.ends_with("quick"));
    assert_eq!(server.max_in_flight(), 2);
    server.reset_max_in_flight();
    assert_eq!(server.max_in_flight(), 0);

    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket.write_all(b"GET /3 HTTP/1.1\r\n\r\n").await.unwrap();
    while server.requests().len() < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(socket);
    for _ in 0..200 {
        if server.closed_by_client() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.closed_by_client(), 1);
}

#[test]
fn a_server_on_its_own_thread_serves_a_test_that_is_not_async() {
    let server = Server::start_in_thread(|_, _| Reply::text(200, "text/plain", "hello"));
    let mut socket = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut socket, b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut socket, &mut answer).unwrap();
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
    assert_eq!(server.requests().len(), 1);
    // And an address where nothing listens refuses.
    assert!(std::net::TcpStream::connect(nothing_listens()).is_err());
}
