//! Diesel's view of the tables in `migrations/`. Both backends share it: every column type here
//! means the same on SQLite and PostgreSQL (timestamps are `BigInt` microseconds, UTC).

diesel::table! {
    projects (id) {
        id -> BigInt,
        name -> Text,
        slug -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    project_settings (project_id) {
        project_id -> BigInt,
        audit_export_enabled -> Bool,
        updated_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    memberships (project_id, user_id) {
        project_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        role -> Text,
        can_ingest -> Bool,
        created_by_user_id -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        project_id -> BigInt,
        email -> Text,
        role -> Text,
        secret_hash -> Text,
        invited_by_user_id -> Nullable<BigInt>,
        invited_by_name -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        accepted_at -> Nullable<BigInt>,
        accepted_by_user_id -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    clusters (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        region -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    applications (id) {
        id -> BigInt,
        project_id -> BigInt,
        cluster_id -> Nullable<BigInt>,
        name -> Text,
        image -> Text,
        deploy_count -> BigInt,
        last_deployed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    datastores (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        engine -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    environment_groups (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        variables -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    cloud_accounts (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        provider -> Text,
        external_account_id -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    integrations (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        kind -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    audit_entries (id) {
        id -> BigInt,
        project_id -> BigInt,
        ts -> BigInt,
        actor_kind -> Text,
        actor_id -> Nullable<BigInt>,
        actor_name -> Text,
        actor_email -> Nullable<Text>,
        source -> Text,
        method -> Text,
        path -> Text,
        route -> Text,
        action -> Text,
        status_code -> Integer,
        resource_type -> Text,
        resource_id -> Nullable<BigInt>,
        resource_name -> Text,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Text,
        duration_us -> BigInt,
        actor_key -> Text,
        resource_key -> Text,
        search_text -> Text,
        chain_seq -> BigInt,
        prev_hash -> Text,
        entry_hash -> Text,
        ingested_by_token_id -> Nullable<BigInt>,
        changes -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_heads (project_id) {
        project_id -> BigInt,
        chain_seq -> BigInt,
        entry_hash -> Text,
        signed_at -> BigInt,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    audit_checkpoints (id) {
        id -> BigInt,
        project_id -> BigInt,
        kind -> Text,
        chain_seq -> BigInt,
        entry_hash -> Text,
        signed_at -> BigInt,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    audit_export_manifests (export_id) {
        export_id -> Text,
        project_id -> BigInt,
        created_at -> BigInt,
        manifest -> Text,
    }
}

diesel::joinable!(project_settings -> projects (project_id));
diesel::joinable!(memberships -> projects (project_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(api_tokens -> projects (project_id));
diesel::joinable!(applications -> clusters (cluster_id));
diesel::joinable!(invitations -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(
    projects,
    project_settings,
    users,
    memberships,
    api_tokens,
    clusters,
    applications,
    datastores,
    environment_groups,
    cloud_accounts,
    integrations,
    audit_entries,
    audit_chain_heads,
    sessions,
    invitations,
);

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    audit_rollups (project_id, dimension, bucket, value) {
        project_id -> BigInt,
        dimension -> Text,
        bucket -> BigInt,
        value -> Text,
        entries -> BigInt,
    }
}

diesel::table! {
    audit_rollups_daily (project_id, dimension, bucket, value) {
        project_id -> BigInt,
        dimension -> Text,
        bucket -> BigInt,
        value -> Text,
        entries -> BigInt,
    }
}

diesel::table! {
    saved_views (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        query -> Text,
        created_by_name -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    stream_destinations (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        kind -> Text,
        url -> Text,
        filter -> Text,
        secret -> Text,
        headers -> Text,
        paused -> Bool,
        cursor_seq -> BigInt,
        delivered_entries -> BigInt,
        last_delivery_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        consecutive_failures -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        created_by_name -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    alert_rules (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        filter -> Text,
        changed_field -> Nullable<Text>,
        changed_to -> Nullable<Text>,
        condition -> Text,
        destination_id -> BigInt,
        paused -> Bool,
        cursor_seq -> BigInt,
        window_state -> Text,
        fired_count -> BigInt,
        last_fired_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        consecutive_failures -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        created_by_name -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    alert_firings (id) {
        id -> BigInt,
        alert_id -> BigInt,
        project_id -> BigInt,
        fired_at -> BigInt,
        group_key -> Nullable<Text>,
        group_label -> Nullable<Text>,
        match_count -> BigInt,
        first_entry_at -> BigInt,
        last_entry_at -> BigInt,
        entry_ids -> Text,
        notified_at -> Nullable<BigInt>,
    }
}
