//! The portal's journey over HTTP, page by page as a browser would fetch them: a new person
//! signs up an org, creates a currency, sets an issuance policy, makes a connect code, invites a
//! member who joins, opens a proposal that both vote on; a payment made through the API shows up
//! on the ledger page and in the CSV export; switched to German, the pages are German. Bad input
//! on the way gives the form back with the field marked, and saves nothing.
// Test helpers outside `#[test]` functions expect too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use coinsence_api::domain::chat::ChatPlatform;
use serde_json::json;
use support::org::{api_login, api_post, seed_and_pay, user_id};
use support::{Browser, sign_up, site};

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let at = text.find(start).map(|i| i + start.len()).expect(start);
    let rest = &text[at..];
    &rest[..rest.find(end).expect(end)]
}

#[tokio::test]
async fn the_journey_of_a_new_community() {
    let site = site().await;

    // Bad input at signup: the form comes back with the field marked, and nothing is saved (the
    // slug stays free).
    let mut b = Browser::new(&site);
    b.get("/signup").await;
    let bad = b
        .post(
            "/signup",
            &[
                ("display_name", "Gina"),
                ("email", "gina@garden.test"),
                ("password", "correct horse battery"),
                ("name", "Garden"),
                ("slug", "garden"),
                ("language", "en"),
                ("currency_code", "hours"),
                ("currency_name", "Hour"),
                ("scale", "2"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body
            .contains(r#"name="currency_code" value="hours" required aria-invalid="true""#),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("role=\"alert\""));
    assert!(
        site.core.tenant("garden").await.is_err(),
        "no org half-saved"
    );

    let mut gina = sign_up(&site, "garden", "gina@garden.test").await;

    // A second currency; a bad one first.
    gina.get("/orgs/garden/currencies").await;
    let bad = gina
        .post(
            "/orgs/garden/currencies",
            &[("code", "HOUR"), ("name", "Hour"), ("scale", "9")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body
            .contains(r#"name="scale" value="9" inputmode="numeric" required aria-invalid="true""#),
        "{}",
        bad.body
    );
    let made = gina
        .post(
            "/orgs/garden/currencies",
            &[("code", "HOUR"), ("name", "Hour"), ("scale", "0")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let list = gina.get("/orgs/garden/currencies").await;
    assert!(list.body.contains("HOUR") && list.body.contains("COIN"));

    // Scheduled issuance: a fixed amount per member and month.
    gina.get("/orgs/garden/issuance").await;
    let bad = gina
        .post(
            "/orgs/garden/issuance",
            &[
                ("currency", "COIN"),
                ("period", "monthly"),
                ("fixed_amount", "10.001"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("aria-invalid=\"true\""), "{}", bad.body);
    let set = gina
        .post(
            "/orgs/garden/issuance",
            &[
                ("currency", "COIN"),
                ("period", "monthly"),
                ("fixed_amount", "10.00"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let policies = gina.get("/orgs/garden/issuance").await;
    assert!(
        policies.body.contains("10.00") && policies.body.contains("active"),
        "{}",
        policies.body
    );

    // A connect code, used in a room; the room is listed, then unbound.
    gina.get("/orgs/garden/rooms").await;
    let coded = gina.post("/orgs/garden/rooms/code", &[]).await;
    assert_eq!(coded.status, 200);
    let code = between(&coded.body, "/connect ", "<").to_owned();
    site.core
        .connect_room(ChatPlatform::Matrix, "!plot:garden.test", &code, None)
        .await
        .expect("the code binds a room");
    let rooms = gina.get("/orgs/garden/rooms").await;
    assert!(rooms.body.contains("!plot:garden.test"), "{}", rooms.body);
    let unbound = gina
        .post(
            "/orgs/garden/rooms/unbind",
            &[("platform", "matrix"), ("room_id", "!plot:garden.test")],
        )
        .await;
    assert_eq!(unbound.status, 303);
    assert!(
        !gina
            .get("/orgs/garden/rooms")
            .await
            .body
            .contains("!plot:garden.test")
    );

    // An invite link; Max signs up and joins through it.
    gina.get("/orgs/garden/members").await;
    let invited = gina.post("/orgs/garden/invites", &[]).await;
    let link = between(&invited.body, "/join/", "<").to_owned();
    let mut max = sign_up(&site, "max-home", "max@garden.test").await;
    let invite = max.get(&format!("/join/{link}")).await;
    assert!(invite.body.contains("Org garden"), "{}", invite.body);
    let joined = max.post(&format!("/join/{link}"), &[]).await;
    assert_eq!(joined.location, "/orgs/garden");
    assert!(
        gina.get("/orgs/garden/members")
            .await
            .body
            .contains("Admin")
    );
    assert!(gina.get("/orgs/garden").await.body.contains("2 members"));

    // Roles change by vote: the members page opens the proposal.
    let max_user = user_id(&site, "max@garden.test").await;
    gina.get("/orgs/garden/members").await;
    let proposed = gina
        .post(
            &format!("/orgs/garden/members/{max_user}/role"),
            &[("role", "treasurer")],
        )
        .await;
    assert_eq!(proposed.status, 303, "{}", proposed.body);
    let role_vote = gina.get(&proposed.location).await;
    assert!(
        role_vote.body.contains("Make Admin treasurer"),
        "{}",
        role_vote.body
    );

    // A proposal, and both vote.
    gina.get("/orgs/garden/proposals").await;
    let opened = gina
        .post(
            "/orgs/garden/proposals",
            &[
                ("title", "Plant apple trees"),
                ("description", "Five of them."),
            ],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    let detail = opened.location.clone();
    assert!(
        gina.get("/orgs/garden")
            .await
            .body
            .contains("Plant apple trees"),
        "open on the dashboard"
    );
    gina.get(&detail).await;
    assert_eq!(
        gina.post(&format!("{detail}/vote"), &[("choice", "yes")])
            .await
            .status,
        303
    );
    max.get(&detail).await;
    assert_eq!(
        max.post(&format!("{detail}/vote"), &[("choice", "no")])
            .await
            .status,
        303
    );
    let tally = gina.get(&detail).await;
    assert!(tally.body.contains("yes 1, no 1"), "{}", tally.body);

    // A payment through the API; one more than Gina has is refused.
    seed_and_pay(
        &site,
        "garden",
        "COIN",
        "gina@garden.test",
        "100.00",
        &[("max@garden.test", "3.50", "apple saplings")],
    )
    .await;
    let gina_api = api_login(&site, "gina@garden.test").await;
    let max_id = user_id(&site, "max@garden.test").await;
    let (status, _) = api_post(
        &site,
        &gina_api,
        "garden",
        "transfers",
        "too-much",
        json!({"currency": "COIN", "to_member": max_id, "amount": "1234.50", "memo": "never"}),
    )
    .await;
    assert_eq!(status, 422);
    let ledger = gina.get("/orgs/garden/ledger").await;
    assert!(ledger.body.contains("apple saplings"), "{}", ledger.body);
    assert!(ledger.body.contains("3.50"));
    assert!(
        !ledger.body.contains("never"),
        "a refused payment is not in the journal"
    );
    let dash = gina.get("/orgs/garden").await;
    assert!(dash.body.contains("100.00"), "circulation: {}", dash.body);
    // The charts moved: a day with one payment, and the spread of COIN over the members.
    assert!(dash.body.contains("Payments per day"), "{}", dash.body);
    assert!(
        dash.body.contains("</rect>") && dash.body.contains(": 1</title>"),
        "{}",
        dash.body
    );
    assert!(dash.body.contains("How COIN is spread"), "{}", dash.body);

    // The CSV holds it, in English and German number formats.
    let csv = gina.get("/orgs/garden/ledger/journal.csv?lang=en").await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.body.contains(",3.50,COIN,apple saplings"),
        "{}",
        csv.body
    );
    let csv = gina.get("/orgs/garden/ledger/journal.csv?lang=de").await;
    assert!(
        csv.body.contains(";3,50;COIN;apple saplings"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("Verwendungszweck"), "{}", csv.body);
    let balances = gina.get("/orgs/garden/ledger/balances.csv?lang=de").await;
    assert!(
        balances.body.contains("Admin;COIN;96,50"),
        "{}",
        balances.body
    );

    // Max sees his own money, and no admin pages in his navigation.
    let mine = max.get("/orgs/garden").await;
    assert!(
        mine.body.contains("Your balances") && mine.body.contains("3.50"),
        "{}",
        mine.body
    );
    assert!(!mine.body.contains("/orgs/garden/members"));

    // German, remembered.
    gina.get("/me").await;
    let switched = gina.post("/me/language", &[("language", "de")]).await;
    assert_eq!(switched.status, 303);
    let page = gina.get("/orgs/garden/ledger").await;
    assert!(page.body.contains("<html lang=\"de\">"));
    assert!(
        page.body.contains("Kassenbuch") && page.body.contains("Buchungen"),
        "{}",
        page.body
    );
    assert!(page.body.contains("3,50"));
    let dash = gina.get("/orgs/garden").await;
    assert!(
        dash.body.contains("Geld im Umlauf") && dash.body.contains("2 Mitglieder"),
        "{}",
        dash.body
    );
    // Every other page of the org is German too, with nothing of the catalog missing (a
    // missing sentence shows its id, `portal-...`, as the text of its element).
    for (page, word) in [
        ("governance", "Abstimmungsdauer"),
        ("pledges", "Arbeit zusagen"),
        ("projects", "Noch keine Projekte."),
        ("market", "Noch nichts auf dem Marktplatz."),
        ("feed", "Noch keine Beiträge."),
        ("mine", "Dein Verlauf"),
        ("ledger?kind=payment", "Alle Arten"),
    ] {
        let page_de = gina.get(&format!("/orgs/garden/{page}")).await;
        assert_eq!(page_de.status, 200, "{page}: {}", page_de.body);
        assert!(page_de.body.contains(word), "{page}: {}", page_de.body);
        assert!(
            !page_de.body.contains(">portal-"),
            "{page}: {}",
            page_de.body
        );
    }

    // Bad input in German.
    gina.get("/orgs/garden/currencies").await;
    let bad = gina
        .post(
            "/orgs/garden/currencies",
            &[("code", "x"), ("name", "X"), ("scale", "2")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("role=\"alert\""));
    assert!(!bad.body.contains("The currency"), "{}", bad.body);

    // Verify now, as htmx asks for it: the seal box alone.
    gina.get("/orgs/garden").await;
    let verified = gina.post("/orgs/garden/verify", &[]).await;
    assert_eq!(verified.status, 200);
    assert!(
        verified.body.contains("Gerade geprüft")
            && verified.body.contains("Noch ist nichts versiegelt"),
        "{}",
        verified.body
    );
    // Once sealed, the person's own check of the signed history: the heads, their entries.
    let garden = site.core.tenant("garden").await.unwrap();
    site.core
        .seal_journal(&garden, chrono::Utc::now())
        .await
        .unwrap();
    let verified = gina.post("/orgs/garden/verify", &[]).await;
    assert!(
        verified.body.contains(
            "Deine eigene Prüfung des veröffentlichten Verlaufs: ein signierter Baumkopf"
        ) && verified.body.contains("--org garden"),
        "{}",
        verified.body
    );
}

#[tokio::test]
async fn assets_are_served_at_content_hashed_paths_for_a_year() {
    let site = site().await;
    let mut b = Browser::new(&site);
    let home = b.get("/").await;
    let htmx = coinsence_tenant_admin::assets::htmx_path();
    assert!(home.body.contains(htmx), "{}", home.body);
    assert!(htmx.starts_with("/assets/htmx-") && htmx.ends_with(".js"));
    let js = b.get(htmx).await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(js.body.contains("htmx"));
    let css = b.get(coinsence_tenant_admin::assets::css_path()).await;
    assert_eq!(css.status, 200);
    assert_eq!(b.get("/assets/htmx-0000.js").await.status, 404);
}

#[tokio::test]
async fn a_chat_code_logs_in_and_links_accounts() {
    let site = site().await;
    let mut gina = sign_up(&site, "linked", "gina@linked.test").await;
    // A chat person asks for /link: the code logs them in (a new session).
    let chat = coinsence_api::domain::chat::ChatIdentity::new(ChatPlatform::Telegram, "4242")
        .expect("identity");
    let chat_user = site
        .core
        .chat_user(&chat, "Gina on Telegram")
        .await
        .expect("a chat user");
    let code = site
        .core
        .create_login_link(chat_user.id)
        .await
        .expect("a code");
    let mut phone = Browser::new(&site);
    let form = phone.get(&format!("/login?code={}", code.code)).await;
    assert!(form.body.contains("hx-trigger=\"load\""), "{}", form.body);
    let page = phone.post("/login/code", &[("code", &code.code)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(phone.cookies.contains_key("cs_session"));
    // Used up.
    let mut again = Browser::new(&site);
    again.get("/login").await;
    let page = again.post("/login/code", &[("code", &code.code)]).await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("Type /link"), "{}", page.body);

    // Linking that chat account to Gina's portal login with a fresh code.
    let code = site
        .core
        .create_login_link(chat_user.id)
        .await
        .expect("a code");
    gina.get("/me").await;
    let linked = gina
        .post("/me/identities/link", &[("code", &code.code)])
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert!(linked.body.contains("4242"), "{}", linked.body);
    let wrong = gina
        .post("/me/identities/link", &[("code", "cl_nothing")])
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains(r#"name="code" required autocomplete="one-time-code" aria-invalid="true""#),
        "{}",
        wrong.body
    );
    gina.get("/me").await;
    let unlinked = gina
        .post(
            "/me/identities/unlink",
            &[("platform", "telegram"), ("platform_user_id", "4242")],
        )
        .await;
    assert_eq!(unlinked.status, 303);
    assert!(!gina.get("/me").await.body.contains("4242"));
}
