//! MQTT ingest (issue 7) through a real Mosquitto broker that the test starts on a loopback port: both
//! payload mappings, refused messages that disturb nothing, redelivered readings stored once, and a broker
//! restart the server reconnects through.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use tvilling_web::ServerConfig;
use tvilling_web::config::IotConfig;
use tvilling_web::mqtt::{MqttConfig, MqttSubscription, PayloadFormat};

use crate::iot::{IotServer, iot_server};

/// A Mosquitto broker on 127.0.0.1:`port`, killed on drop.
struct Broker {
    child: Child,
}

impl Broker {
    fn start(dir: &Path, port: u16) -> Broker {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_inflight_messages 1000\nmax_queued_messages 100000\n"
            ),
        )
        .unwrap();
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto (Debian package mosquitto; scripts/bootstrap.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Publishes every (topic, payload) with QoS 1 and returns when the broker has acknowledged them all.
async fn publish(port: u16, messages: &[(String, String)]) {
    let mut o = MqttOptions::new(format!("test-pub-{}", rand_id()), "127.0.0.1", port);
    o.set_inflight(1000);
    let (client, mut events) = AsyncClient::new(o, 10_000);
    let n = messages.len();
    let acks = tokio::spawn(async move {
        let mut acked = 0;
        while acked < n {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => panic!("publisher: {e}"),
            }
        }
        events
    });
    for (topic, payload) in messages {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload.clone())
            .await
            .unwrap();
    }
    let mut events = tokio::time::timeout(Duration::from_secs(30), acks)
        .await
        .expect("the broker acknowledges")
        .unwrap();
    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Waits until the store holds `n` readings (or fails after 60 s).
async fn wait_for(t: &IotServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = t.stored().await.len();
        if have == n {
            return;
        }
        assert!(
            have < n && Instant::now() < deadline,
            "expected {n} readings, the store has {have}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sta(ds: i64, minute: usize, value: f64) -> (String, String) {
    (
        format!("v1.1/Datastreams({ds})/Observations"),
        json!({"phenomenonTime": format!("2026-02-01T{:02}:{:02}:00Z", minute / 60, minute % 60),
               "result": value})
        .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt_readings_arrive_once_through_a_real_broker_and_survive_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker = Broker::start(dir.path(), port);
    let config = ServerConfig {
        iot: IotConfig {
            mqtt: Some(MqttConfig {
                url: format!("mqtt://127.0.0.1:{port}"),
                client_id: format!("tvilling-test-{}", rand_id()),
                subscriptions: vec![
                    MqttSubscription::default(),
                    MqttSubscription {
                        topic: "hus/+/+/temp".into(),
                        format: PayloadFormat::Json,
                        datastream: "topic:2".into(),
                        time: "/ts".into(),
                        result: "/v".into(),
                        quality: None,
                    },
                ],
                batch_max: 500,
                batch_wait_ms: 20,
            }),
            ..IotConfig::default()
        },
        ..ServerConfig::default()
    };
    let t = iot_server(config).await;
    let (_, ds) = t.station("Rosengård", 13.03, 55.58).await;

    // 300 SensorThings-style readings and 50 in a house's own JSON layout (epoch seconds).
    let mut msgs: Vec<(String, String)> = (0..300).map(|i| sta(ds[0], i, i as f64)).collect();
    msgs.extend((0..50).map(|i| {
        (
            format!("hus/1102/{}/temp", ds[1]),
            json!({"ts": 1_769_904_000 + i * 60, "v": 40.0 + i as f64}).to_string(),
        )
    }));
    // Refused, logged and acknowledged: not JSON (NaN), an unknown Datastream, no result, a far future.
    msgs.push(sta(ds[0], 0, 0.0)); // a redelivery of reading 0: stored once
    msgs.push((
        format!("v1.1/Datastreams({})/Observations", ds[0]),
        "{\"result\": NaN}".into(),
    ));
    msgs.push(sta(9999, 0, 1.0));
    msgs.push((
        format!("v1.1/Datastreams({})/Observations", ds[0]),
        "{\"phenomenonTime\": \"2026-01-01T00:00:00Z\"}".into(),
    ));
    msgs.push((
        format!("v1.1/Datastreams({})/Observations", ds[0]),
        json!({"phenomenonTime": "2999-01-01T00:00:00Z", "result": 1}).to_string(),
    ));
    publish(port, &msgs).await;
    wait_for(&t, 350).await;
    let rows = t.stored().await;
    assert_eq!(rows[0], (ds[0], 1_769_904_000_000_000, 0.0));
    assert_eq!(rows.iter().filter(|r| r.0 == ds[1]).count(), 50);
    assert_eq!(
        rows.iter().find(|r| r.0 == ds[1]).map(|r| (r.1, r.2)),
        Some((1_769_904_000_000_000, 40.0))
    );
    let metrics =
        t.s.get("/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut metrics = metrics;
    while !metrics.contains("tvilling_mqtt_rejected_total 4") {
        assert!(
            Instant::now() < deadline,
            "4 refused messages counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics =
            t.s.get("/metrics")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
    }
    assert!(
        metrics.contains("tvilling_mqtt_messages_total 355"),
        "{metrics}"
    );

    // The broker goes away and comes back: the server reconnects and subscribes again.
    drop(broker);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _broker = Broker::start(dir.path(), port);
    let more: Vec<_> = (300..320).map(|i| sta(ds[0], i, i as f64)).collect();
    // The server resubscribes after it reconnects (within its backoff); retry until it has.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        publish(port, &more).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if t.stored().await.len() == 370 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no readings after the broker restart"
        );
    }
    // The server still answers HTTP.
    assert_eq!(t.s.get("/healthz").send().await.unwrap().status(), 200);
}
