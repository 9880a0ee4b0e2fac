//! Authentication: `Authorization2` tokens and basic auth.

use reqwest::StatusCode;
use serde_json::json;

use super::start;

#[tokio::test]
async fn auth_accepts_authorization2_and_basic_only() {
    let env = start().await;
    let url = env.url("/api/v3/users");
    let c = &env.client;
    let token = env.emu.token();
    let expect_401 = [
        c.get(&url),
        c.get(&url).header("Authorization2", "wrong-token"),
        c.get(&url).bearer_auth(token),
        c.get(&url).header("Authorization", token),
        c.get(&url).basic_auth("sandbox-admin", Some("wrong")),
        c.get(&url).header("Authorization2", ""),
    ];
    for request in expect_401 {
        let (status, body) = env.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"errors": ["Authentication failure"]}));
    }
    let (user, password) = env.emu.basic_credentials();
    let (status, body) = env.send(c.get(&url).basic_auth(user, Some(password))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    let (status, _) = env.send(env.get("/api/v3/users")).await;
    assert_eq!(status, StatusCode::OK);
    let counters = env.emu.counters();
    assert_eq!(counters.with_status(401), 6, "401s are counted");
    assert_eq!(counters.count("GET", "/api/v3/users"), 8);
    // The actor is recorded: Basic user vs the token's user.
    let (_, created) = env
        .send(
            c.post(&url)
                .basic_auth(user, Some(password))
                .json(&json!({"username": "basic"})),
        )
        .await;
    assert_eq!(created["created_by"], "sandbox-admin");
    let (_, created) = env
        .send(env.post("/api/v3/users", &json!({"username": "token"})))
        .await;
    assert_eq!(created["created_by"], "api-token-user");
}
