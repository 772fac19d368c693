//! Users, access keys (at most N per user), policies and their attachments, and personal
//! access tokens.

use crate::support::*;
use ota_store::{AccessKeyRow, ApiTokenRow, PolicyRow, Store, StoreError, UserRow};

both!(
    users_are_added_changed_and_removed_with_what_they_hold,
    a_user_holds_at_most_the_allowed_number_of_keys,
    keys_are_switched_touched_and_resealed,
    policies_attach_detach_and_refuse_deletion_while_attached,
    builtin_policies_are_rewritten_and_not_edited,
    tokens_are_kept_hashed_and_revoked_once
);

fn user(name: &str) -> UserRow {
    UserRow {
        user_name: name.to_owned(),
        display_name: format!("{name} display"),
        enabled: true,
        password_hash: None,
        created_at: T0,
    }
}

fn key(id: &str, owner: &str, at: i64) -> AccessKeyRow {
    AccessKeyRow {
        key_id: id.to_owned(),
        user_name: owner.to_owned(),
        sealed_secret: format!("sealed-{id}"),
        enabled: true,
        created_at: at,
        last_used_at: None,
        last_used_from: None,
    }
}

fn policy(name: &str, builtin: bool) -> PolicyRow {
    PolicyRow {
        policy_name: name.to_owned(),
        description: format!("{name} description"),
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
            .to_owned(),
        builtin,
        created_at: T0,
    }
}

async fn users_are_added_changed_and_removed_with_what_they_hold(s: &Store) {
    s.insert_user(&user("bob")).await.unwrap();
    s.insert_user(&user("alice")).await.unwrap();
    assert!(matches!(
        s.insert_user(&user("bob")).await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    let mut changed = user("bob");
    changed.enabled = false;
    changed.display_name = "Bob B.".to_owned();
    changed.password_hash = Some("$argon2id$v=19$...".to_owned());
    s.update_user(&changed).await.unwrap();
    assert_eq!(s.get_user("bob").await.unwrap(), Some(changed));
    assert!(matches!(
        s.update_user(&user("nobody")).await,
        Err(StoreError::NotFound)
    ));

    s.insert_access_key(&key("AK1", "bob", T0), 2)
        .await
        .unwrap();
    s.insert_policy(&policy("p1", false)).await.unwrap();
    s.attach_policy("bob", "p1", T0).await.unwrap();
    s.insert_api_token(&token("t1", "bob")).await.unwrap();
    s.delete_user("bob").await.unwrap();
    assert_eq!(s.get_user("bob").await.unwrap(), None);
    assert_eq!(s.access_key("AK1").await.unwrap(), None);
    assert_eq!(s.api_token("t1").await.unwrap(), None);
    // The policy stays, no longer attached, so it may now be deleted.
    s.delete_policy("p1").await.unwrap();
    assert!(matches!(
        s.delete_user("bob").await,
        Err(StoreError::NotFound)
    ));
}

async fn a_user_holds_at_most_the_allowed_number_of_keys(s: &Store) {
    s.insert_user(&user("ci")).await.unwrap();
    s.insert_access_key(&key("AK1", "ci", T0), 2).await.unwrap();
    s.insert_access_key(&key("AK2", "ci", T0 + 1), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.insert_access_key(&key("AK3", "ci", T0 + 2), 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.insert_access_key(&key("AK4", "ghost", T0), 2).await,
        Err(StoreError::NotFound)
    ));
    s.insert_user(&user("other")).await.unwrap();
    assert!(matches!(
        s.insert_access_key(&key("AK1", "other", T0), 2).await,
        Err(StoreError::Conflict(_))
    ));
    let held: Vec<String> = s
        .list_access_keys(Some("ci"))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(held, ["AK1", "AK2"]);
    s.delete_access_key("AK1").await.unwrap();
    s.insert_access_key(&key("AK3", "ci", T0 + 3), 2)
        .await
        .unwrap();
    assert_eq!(s.list_access_keys(None).await.unwrap().len(), 2);
}

async fn keys_are_switched_touched_and_resealed(s: &Store) {
    s.insert_user(&user("ci")).await.unwrap();
    s.insert_access_key(&key("AK1", "ci", T0), 2).await.unwrap();
    s.set_access_key_enabled("AK1", false).await.unwrap();
    s.touch_access_key("AK1", T0 + 5, "10.0.0.7").await.unwrap();
    let got = s.access_key("AK1").await.unwrap().unwrap();
    assert!(!got.enabled);
    assert_eq!(got.last_used_at, Some(T0 + 5));
    assert_eq!(got.last_used_from.as_deref(), Some("10.0.0.7"));
    s.reseal_access_key("AK1", "sealed-again", "admin")
        .await
        .unwrap();
    let got = s.access_key("AK1").await.unwrap().unwrap();
    assert_eq!(got.sealed_secret, "sealed-again");
    // A key with an owner keeps it.
    assert_eq!(got.user_name, "ci");
    for missing in [
        s.set_access_key_enabled("AK9", true).await,
        s.delete_access_key("AK9").await,
        s.reseal_access_key("AK9", "x", "admin").await,
    ] {
        assert!(matches!(missing, Err(StoreError::NotFound)));
    }
}

async fn policies_attach_detach_and_refuse_deletion_while_attached(s: &Store) {
    s.insert_user(&user("ops")).await.unwrap();
    s.insert_policy(&policy("rollouts", false)).await.unwrap();
    s.insert_policy(&policy("audit", false)).await.unwrap();
    assert!(matches!(
        s.insert_policy(&policy("audit", false)).await,
        Err(StoreError::Conflict(_))
    ));
    s.attach_policy("ops", "rollouts", T0).await.unwrap();
    s.attach_policy("ops", "rollouts", T0 + 1).await.unwrap();
    s.attach_policy("ops", "audit", T0).await.unwrap();
    for (u, p) in [("ops", "missing"), ("ghost", "audit")] {
        assert!(matches!(
            s.attach_policy(u, p, T0).await,
            Err(StoreError::NotFound)
        ));
    }
    let names = |v: Vec<PolicyRow>| v.into_iter().map(|p| p.policy_name).collect::<Vec<_>>();
    assert_eq!(
        names(s.attached_policies("ops").await.unwrap()),
        ["audit", "rollouts"]
    );
    assert!(matches!(
        s.delete_policy("rollouts").await,
        Err(StoreError::Conflict(_))
    ));
    s.detach_policy("ops", "rollouts").await.unwrap();
    assert!(matches!(
        s.detach_policy("ops", "rollouts").await,
        Err(StoreError::NotFound)
    ));
    let mut edited = policy("rollouts", false);
    edited.document = r#"{"Version":"1","Statement":[]}"#.to_owned();
    s.update_policy(&edited).await.unwrap();
    assert_eq!(s.get_policy("rollouts").await.unwrap(), Some(edited));
    s.delete_policy("rollouts").await.unwrap();
    assert_eq!(s.get_policy("rollouts").await.unwrap(), None);
    assert_eq!(names(s.attached_policies("ops").await.unwrap()), ["audit"]);
}

async fn builtin_policies_are_rewritten_and_not_edited(s: &Store) {
    s.upsert_builtin_policy(&policy("ReadOnlyAccess", true))
        .await
        .unwrap();
    let mut newer = policy("ReadOnlyAccess", true);
    newer.description = "rewritten".to_owned();
    s.upsert_builtin_policy(&newer).await.unwrap();
    assert_eq!(s.get_policy("ReadOnlyAccess").await.unwrap(), Some(newer));
    s.insert_policy(&policy("custom", false)).await.unwrap();
    let listed: Vec<(String, bool)> = s
        .list_policies()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.policy_name, p.builtin))
        .collect();
    assert_eq!(
        listed,
        [
            ("ReadOnlyAccess".to_owned(), true),
            ("custom".to_owned(), false)
        ]
    );
    assert!(matches!(
        s.update_policy(&policy("ReadOnlyAccess", true)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_policy("ReadOnlyAccess").await,
        Err(StoreError::NotFound)
    ));
}

fn token(id: &str, owner: &str) -> ApiTokenRow {
    ApiTokenRow {
        token_id: id.to_owned(),
        user_name: owner.to_owned(),
        name: format!("{id} name"),
        secret_hash: format!("hash-{id}"),
        created_at: T0,
        expires_at: T0 + 86_400_000,
        revoked_at: None,
        last_used_at: None,
    }
}

async fn tokens_are_kept_hashed_and_revoked_once(s: &Store) {
    s.insert_user(&user("ci")).await.unwrap();
    s.insert_api_token(&token("t1", "ci")).await.unwrap();
    let mut later = token("t2", "ci");
    later.created_at = T0 + 1;
    s.insert_api_token(&later).await.unwrap();
    assert!(matches!(
        s.insert_api_token(&token("t3", "ghost")).await,
        Err(StoreError::NotFound)
    ));
    let listed: Vec<String> = s
        .list_api_tokens("ci")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.token_id)
        .collect();
    assert_eq!(listed, ["t2", "t1"]);
    s.revoke_api_token("t1", T0 + 10).await.unwrap();
    s.revoke_api_token("t1", T0 + 20).await.unwrap();
    s.touch_api_token("t1", T0 + 30).await.unwrap();
    let got = s.api_token("t1").await.unwrap().unwrap();
    assert_eq!(got.revoked_at, Some(T0 + 10));
    assert_eq!(got.last_used_at, Some(T0 + 30));
    assert!(matches!(
        s.revoke_api_token("t9", T0).await,
        Err(StoreError::NotFound)
    ));
}
