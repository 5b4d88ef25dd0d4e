/**
 * The numbered schema migrations. Append only: never edit a released migration, add the next version.
 * Each one runs in its own transaction together with its schema_version row.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'ble devices, bonds, samples, sync cursors',
    sql: `
      CREATE TABLE devices (
        id            TEXT PRIMARY KEY,              -- peripheral id as the BLE layer reports it
        address       TEXT,
        definition_id TEXT NOT NULL,                 -- devices/ definition id
        name          TEXT,
        info          TEXT NOT NULL DEFAULT '{}',    -- JSON: model, firmware, serial …
        paired_at     INTEGER NOT NULL,              -- epoch ms
        last_sync_at  INTEGER,
        last_error    TEXT,
        failures      INTEGER NOT NULL DEFAULT 0     -- consecutive failed syncs (scheduler backoff)
      );
      CREATE TABLE bonds (
        device_id  TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        key_sealed BLOB,                             -- AES-256-GCM: iv(12) | tag(16) | ciphertext
        created_at INTEGER NOT NULL
      );
      CREATE TABLE samples (
        device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        kind      TEXT NOT NULL,
        ts        INTEGER NOT NULL,                  -- UTC epoch ms, hub-corrected
        value     REAL NOT NULL,
        seq       INTEGER,                           -- source record number where the device has one
        meta      TEXT,                              -- JSON
        PRIMARY KEY (device_id, kind, ts)
      ) WITHOUT ROWID;
      CREATE INDEX samples_by_time ON samples(ts);
      CREATE TABLE sync_cursors (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        stream     TEXT NOT NULL,
        value      INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, stream)
      );
    `,
  },
  {
    version: 2,
    name: 'network: clients, contacts and lookups per time bucket, names, leaks, events, capture, audit',
    sql: `
      CREATE TABLE net_clients (
        id               TEXT PRIMARY KEY,          -- MAC where the capture has one, else the IP (design.md)
        mac              TEXT,
        hostname         TEXT,                      -- DHCP option 12
        vendor_class     TEXT,                      -- DHCP option 60
        mdns_name        TEXT,
        dhcp_fingerprint TEXT,
        user_agents      TEXT NOT NULL DEFAULT '[]', -- JSON, at most 16
        first_seen       INTEGER NOT NULL,          -- epoch ms (capture time)
        last_seen        INTEGER NOT NULL
      );
      CREATE TABLE net_client_ips (
        client_id  TEXT NOT NULL REFERENCES net_clients(id) ON DELETE CASCADE,
        ip         TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        PRIMARY KEY (client_id, ip)
      ) WITHOUT ROWID;
      -- One row per (time bucket, client, name, server, port, transport): flows are summed into it,
      -- never stored one by one. bucket_ms is the bucket size (detail) or 86400000 (daily roll-up).
      CREATE TABLE net_contacts (
        bucket_start INTEGER NOT NULL,
        bucket_ms    INTEGER NOT NULL,
        client_id    TEXT NOT NULL,
        name         TEXT NOT NULL,                 -- best name, '' when none
        server_ip    TEXT NOT NULL,
        port         INTEGER NOT NULL,
        transport    TEXT NOT NULL,
        protocol     TEXT NOT NULL,
        sni          TEXT,
        quic_sni     TEXT,
        http_hosts   TEXT NOT NULL DEFAULT '[]',    -- JSON arrays, in order of first appearance
        dns_names    TEXT NOT NULL DEFAULT '[]',
        alpn         TEXT NOT NULL DEFAULT '[]',
        user_agents  TEXT NOT NULL DEFAULT '[]',
        ja3          TEXT,
        ja4          TEXT,
        tls_version  TEXT,
        ech          INTEGER NOT NULL DEFAULT 0,
        quic_version TEXT,
        flows        INTEGER NOT NULL,
        packets      INTEGER NOT NULL,
        bytes_out    INTEGER NOT NULL,
        bytes_in     INTEGER NOT NULL,
        first_ts     REAL NOT NULL,                 -- epoch ms, fractional (µs)
        last_ts      REAL NOT NULL,
        encrypted    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (bucket_start, client_id, name, server_ip, port, transport)
      ) WITHOUT ROWID;
      CREATE INDEX net_contacts_by_client ON net_contacts(client_id, bucket_start);
      CREATE INDEX net_contacts_by_size ON net_contacts(bucket_ms, bucket_start);
      -- DNS/mDNS/LLMNR questions per bucket. questions = records without answers; answered_first = the
      -- bucket's first record for the key carried answers (the report counts it as one lookup then).
      CREATE TABLE net_lookups (
        bucket_start   INTEGER NOT NULL,
        bucket_ms      INTEGER NOT NULL,
        client_id      TEXT NOT NULL,
        name           TEXT NOT NULL,
        type           TEXT NOT NULL,
        protocol       TEXT NOT NULL,
        questions      INTEGER NOT NULL,
        answered_first INTEGER NOT NULL,
        answers        TEXT NOT NULL DEFAULT '[]',
        first_ts       REAL NOT NULL,
        last_ts        REAL NOT NULL,
        PRIMARY KEY (bucket_start, client_id, name, type)
      ) WITHOUT ROWID;
      CREATE INDEX net_lookups_by_size ON net_lookups(bucket_ms, bucket_start);
      -- Which names a server address answered for (from DNS answers): for the firewall and the dashboard.
      CREATE TABLE net_names (
        ip         TEXT NOT NULL,
        name       TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        PRIMARY KEY (ip, name)
      ) WITHOUT ROWID;
      CREATE INDEX net_names_by_name ON net_names(name);
      CREATE INDEX net_names_by_time ON net_names(last_seen);
      CREATE TABLE net_leaks (
        id         INTEGER PRIMARY KEY,
        client_id  TEXT NOT NULL,
        name       TEXT NOT NULL DEFAULT '',
        server_ip  TEXT NOT NULL,
        protocol   TEXT NOT NULL,
        kind       TEXT NOT NULL,
        term       TEXT NOT NULL,
        evidence   TEXT NOT NULL,
        encoding   TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen  REAL NOT NULL,
        count      INTEGER NOT NULL,
        UNIQUE (client_id, name, server_ip, kind, term, encoding)
      );
      CREATE INDEX net_leaks_by_time ON net_leaks(last_seen);
      CREATE TABLE net_events (
        id        INTEGER PRIMARY KEY,
        ts        REAL NOT NULL,
        client_id TEXT NOT NULL,
        app       TEXT,
        kind      TEXT NOT NULL,
        evidence  TEXT NOT NULL
      );
      CREATE INDEX net_events_by_time ON net_events(ts);
      -- Packet counters per bucket and source (what analyze reports under "capture").
      CREATE TABLE net_capture_buckets (
        bucket_start  INTEGER NOT NULL,
        bucket_ms     INTEGER NOT NULL,
        source        TEXT NOT NULL,                -- live:<interface> or replay:<file>
        packets       INTEGER NOT NULL,
        bytes         INTEGER NOT NULL,
        malformed     INTEGER NOT NULL,
        truncated     INTEGER NOT NULL,
        flows         INTEGER NOT NULL,
        flows_evicted INTEGER NOT NULL,
        link_types    TEXT NOT NULL DEFAULT '[]',
        drops         TEXT NOT NULL DEFAULT '{}',
        first_ts      REAL,
        last_ts       REAL,
        PRIMARY KEY (bucket_start, source)
      ) WITHOUT ROWID;
      -- The live capture's current state, one row per source, rewritten with every batch.
      CREATE TABLE capture_status (
        source       TEXT PRIMARY KEY,
        state        TEXT NOT NULL,                 -- starting | capturing | unavailable | stopped | done
        detail       TEXT NOT NULL DEFAULT '',
        filter       TEXT NOT NULL DEFAULT '',
        packets      INTEGER NOT NULL DEFAULT 0,
        bytes        INTEGER NOT NULL DEFAULT 0,
        kernel_drops INTEGER,                       -- null when the platform does not tell
        queue_drops  INTEGER NOT NULL DEFAULT 0,
        started_at   INTEGER,
        updated_at   INTEGER NOT NULL
      );
      -- One row per committed write transaction: seq is monotonic, the counts say what it carried.
      CREATE TABLE write_batches (
        seq          INTEGER PRIMARY KEY,
        committed_at INTEGER NOT NULL,
        flows        INTEGER NOT NULL,
        lookups      INTEGER NOT NULL,
        clients      INTEGER NOT NULL,
        packets      INTEGER NOT NULL
      );
      CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY,
        ts     INTEGER NOT NULL,
        actor  TEXT NOT NULL,                       -- cli | api | agent | scheduler
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_log_by_time ON audit_log(ts);
    `,
  },
  {
    version: 3,
    name: 'firewall: block/allow entries, addresses learnt from DNS answers, applied state and policy revision',
    sql: `
      CREATE TABLE firewall_entries (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL CHECK (kind IN ('domain', 'organization', 'role')),
        target     TEXT NOT NULL,                 -- normalised domain (A-labels), organization or role
        client     TEXT NOT NULL DEFAULT '',      -- '' = every client; else a MAC (or an IP until seen)
        action     TEXT NOT NULL CHECK (action IN ('block', 'allow')),
        created_at INTEGER NOT NULL,              -- epoch ms
        source     TEXT NOT NULL CHECK (source IN ('cli', 'api', 'agent')),
        note       TEXT,
        UNIQUE (kind, target, client, action)
      );
      -- Addresses that DNS answers gave for a name, kept until the answer's TTL (with a floor) ends.
      CREATE TABLE firewall_names (
        client     TEXT NOT NULL,                 -- who asked (MAC or IP), '' when unknown
        name       TEXT NOT NULL,
        address    TEXT NOT NULL,
        expires_at INTEGER NOT NULL,              -- epoch ms
        PRIMARY KEY (client, name, address)
      ) WITHOUT ROWID;
      CREATE INDEX firewall_names_by_expiry ON firewall_names(expires_at);
      -- One row: the policy revision (bumped by every change; a running agent polls it), on/off,
      -- settings (JSON), and what was last applied to the kernel.
      CREATE TABLE firewall_state (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        revision         INTEGER NOT NULL DEFAULT 0,
        enabled          INTEGER NOT NULL DEFAULT 1,
        settings         TEXT NOT NULL DEFAULT '{}',
        applied_hash     TEXT,
        applied_at       INTEGER,
        applied_revision INTEGER,
        applied_state    TEXT,                    -- JSON: per set, the entries that fed it
        last_error       TEXT,
        last_error_at    INTEGER
      );
      INSERT INTO firewall_state (id) VALUES (1);
    `,
  },
  {
    version: 4,
    name: 'ip_owner_cache: network owners (ASN, organization, country) learnt over RDAP, and failed lookups',
    sql: `
      CREATE TABLE ip_owner_cache (
        key          TEXT PRIMARY KEY,              -- an address ("203.0.113.7") or a network range ("first-last")
        family       INTEGER NOT NULL,              -- 4 or 6
        range_start  TEXT NOT NULL,                 -- first address, fixed-width hex (8 or 32 digits): sorts like the address
        range_end    TEXT NOT NULL,                 -- last address, same form
        asn          INTEGER,                       -- originating autonomous system, when the registry says
        as_org       TEXT,                          -- organization (registrant) of the network, else its name
        country      TEXT,                          -- ISO 3166-1 alpha-2 of the registration
        network_name TEXT,
        handle       TEXT,                          -- registry handle, e.g. NET-8-8-8-0-2
        source       TEXT NOT NULL,                 -- 'rdap'
        server       TEXT,                          -- URL that answered
        fetched_at   INTEGER NOT NULL,              -- epoch ms
        expires_at   INTEGER NOT NULL,              -- epoch ms; expired rows are ignored and purged
        error        TEXT                           -- set for a negative entry: why the lookup failed
      );
      CREATE INDEX ip_owner_cache_by_range ON ip_owner_cache(family, range_start);
      CREATE INDEX ip_owner_cache_by_expiry ON ip_owner_cache(expires_at);
    `,
  },
  {
    version: 5,
    name: 'net_contact_totals: every contact summed over its time buckets (kept by triggers), for the dashboard',
    sql: `
      -- One row per (client, name, server, port, transport): net_contacts without the time bucket. Triggers keep it
      -- equal to the sum of net_contacts (insert, INSERT OR REPLACE, delete, update), so the dashboard's parties
      -- view reads a few thousand rows instead of every bucket. first_ts/last_ts only ever widen.
      CREATE TABLE net_contact_totals (
        client_id  TEXT NOT NULL,
        name       TEXT NOT NULL,
        server_ip  TEXT NOT NULL,
        port       INTEGER NOT NULL,
        transport  TEXT NOT NULL,
        protocol   TEXT NOT NULL,
        buckets    INTEGER NOT NULL,                -- net_contacts rows summed here; the row goes at 0
        flows      INTEGER NOT NULL,
        packets    INTEGER NOT NULL,
        bytes_out  INTEGER NOT NULL,
        bytes_in   INTEGER NOT NULL,
        first_ts   REAL NOT NULL,
        last_ts    REAL NOT NULL,
        encrypted  INTEGER NOT NULL,
        PRIMARY KEY (client_id, name, server_ip, port, transport)
      ) WITHOUT ROWID;
      INSERT INTO net_contact_totals
        SELECT client_id, name, server_ip, port, transport,
               CASE MAX((CASE protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END))
                 WHEN 3 THEN CASE WHEN SUM(protocol = 'tls') > 0 THEN 'tls' ELSE 'quic' END
                 WHEN 2 THEN 'http'
                 WHEN 1 THEN MAX(CASE WHEN (CASE protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END) = 1 THEN protocol END)
                 ELSE 'other' END,
               COUNT(*), SUM(flows), SUM(packets), SUM(bytes_out), SUM(bytes_in), MIN(first_ts), MAX(last_ts),
               MAX(encrypted)
        FROM net_contacts GROUP BY client_id, name, server_ip, port, transport;
      -- A time window of the parties view reads net_contacts by last time seen.
      CREATE INDEX net_contacts_by_last ON net_contacts(last_ts);
      CREATE INDEX net_leaks_by_contact ON net_leaks(client_id, name);

      -- INSERT OR REPLACE: take the replaced row out first (its delete does not fire triggers).
      CREATE TRIGGER net_contact_totals_replace BEFORE INSERT ON net_contacts BEGIN
        UPDATE net_contact_totals AS t SET buckets = t.buckets - 1, flows = t.flows - c.flows,
          packets = t.packets - c.packets, bytes_out = t.bytes_out - c.bytes_out, bytes_in = t.bytes_in - c.bytes_in
        FROM net_contacts AS c WHERE c.bucket_start = NEW.bucket_start AND c.client_id = NEW.client_id AND c.name = NEW.name AND c.server_ip = NEW.server_ip AND c.port = NEW.port AND c.transport = NEW.transport AND t.client_id = NEW.client_id AND t.name = NEW.name AND t.server_ip = NEW.server_ip AND t.port = NEW.port AND t.transport = NEW.transport;
      END;
      CREATE TRIGGER net_contact_totals_insert AFTER INSERT ON net_contacts BEGIN
        INSERT INTO net_contact_totals VALUES (NEW.client_id, NEW.name, NEW.server_ip, NEW.port, NEW.transport,
          NEW.protocol, 1, NEW.flows, NEW.packets, NEW.bytes_out, NEW.bytes_in, NEW.first_ts, NEW.last_ts, NEW.encrypted)
        ON CONFLICT (client_id, name, server_ip, port, transport) DO UPDATE SET
          protocol = CASE WHEN (CASE excluded.protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END) > (CASE protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END) THEN excluded.protocol ELSE protocol END,
          buckets = buckets + 1, flows = flows + excluded.flows, packets = packets + excluded.packets,
          bytes_out = bytes_out + excluded.bytes_out, bytes_in = bytes_in + excluded.bytes_in,
          first_ts = MIN(first_ts, excluded.first_ts), last_ts = MAX(last_ts, excluded.last_ts),
          encrypted = MAX(encrypted, excluded.encrypted);
      END;
      CREATE TRIGGER net_contact_totals_delete AFTER DELETE ON net_contacts BEGIN
        UPDATE net_contact_totals SET buckets = buckets - 1, flows = flows - OLD.flows, packets = packets - OLD.packets,
          bytes_out = bytes_out - OLD.bytes_out, bytes_in = bytes_in - OLD.bytes_in WHERE client_id = OLD.client_id AND name = OLD.name AND server_ip = OLD.server_ip AND port = OLD.port AND transport = OLD.transport;
        DELETE FROM net_contact_totals WHERE buckets <= 0 AND client_id = OLD.client_id AND name = OLD.name AND server_ip = OLD.server_ip AND port = OLD.port AND transport = OLD.transport;
      END;
      CREATE TRIGGER net_contact_totals_update AFTER UPDATE ON net_contacts BEGIN
        UPDATE net_contact_totals SET buckets = buckets - 1, flows = flows - OLD.flows, packets = packets - OLD.packets,
          bytes_out = bytes_out - OLD.bytes_out, bytes_in = bytes_in - OLD.bytes_in WHERE client_id = OLD.client_id AND name = OLD.name AND server_ip = OLD.server_ip AND port = OLD.port AND transport = OLD.transport;
        DELETE FROM net_contact_totals WHERE buckets <= 0 AND client_id = OLD.client_id AND name = OLD.name AND server_ip = OLD.server_ip AND port = OLD.port AND transport = OLD.transport;
        INSERT INTO net_contact_totals VALUES (NEW.client_id, NEW.name, NEW.server_ip, NEW.port, NEW.transport,
          NEW.protocol, 1, NEW.flows, NEW.packets, NEW.bytes_out, NEW.bytes_in, NEW.first_ts, NEW.last_ts, NEW.encrypted)
        ON CONFLICT (client_id, name, server_ip, port, transport) DO UPDATE SET
          protocol = CASE WHEN (CASE excluded.protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END) > (CASE protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END) THEN excluded.protocol ELSE protocol END,
          buckets = buckets + 1, flows = flows + excluded.flows, packets = packets + excluded.packets,
          bytes_out = bytes_out + excluded.bytes_out, bytes_in = bytes_in + excluded.bytes_in,
          first_ts = MIN(first_ts, excluded.first_ts), last_ts = MAX(last_ts, excluded.last_ts),
          encrypted = MAX(encrypted, excluded.encrypted);
      END;
    `,
  },
];
