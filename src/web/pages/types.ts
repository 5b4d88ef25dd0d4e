/** Shapes of the API answers the pages use (see /api/v1/openapi.json). */

export interface Facet {
  value: string;
  count: number;
}

export interface Device {
  id: string;
  name: string | null;
  definitionId: string;
  vendor: string | null;
  model: string | null;
  pairedAt: string;
  lastSyncAt: string | null;
  lastError: string | null;
  failures: number;
  samples: number;
}

export interface Candidate {
  id: string;
  address: string;
  name: string | null;
  rssi: number;
  connectable: boolean;
  definition: { id: string; vendor: string; model: string; pairing: string; pairingHint: string } | null;
  advertised: string;
  paired: boolean;
}

export interface ClientRow {
  id: string;
  mac: string | null;
  ips: string[];
  hostname: string | null;
  vendor: string | null;
  apps: string[];
  parties: number;
  thirdParties: number;
  leaks: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
}

export interface PartyRow {
  id: string;
  client: string;
  clientName: string | null;
  app: string | null;
  name: string | null;
  registrableDomain: string | null;
  organization: string | null;
  role: string;
  party: string;
  ownerCountry: string | null;
  country: string | null;
  asn: number | null;
  asOrganization: string | null;
  servers: number;
  port: number;
  protocol: string;
  flows: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
  encrypted: boolean;
  leaks: { count: number; kinds: string[] };
  blocked: { entryId: number; kind: string; target: string; scope: 'client' | 'all'; action: string } | null;
  serverNote?: string | null;
  serverList?: { ip: string; port: number; country: string | null; asn: number | null; bytes: number }[];
}

export interface PartiesPage {
  items: PartyRow[];
  total: number;
  offset: number;
  limit: number;
  facets: Record<'role' | 'party' | 'country' | 'organization' | 'app' | 'client', Facet[]>;
}

export interface Leak {
  id: number;
  client: string;
  name: string | null;
  serverIp: string;
  protocol: string;
  kind: string;
  term: string;
  evidence: string;
  redacted: boolean;
  encoding: string;
  party: string;
  organization: string | null;
  firstSeen: string;
  lastSeen: string;
  count: number;
}

export interface ApplySummary {
  at: string;
  ok: boolean;
  dryRun: boolean;
  changed: boolean;
  hash: string | null;
  durationMs: number;
  error: string | null;
  cause: string;
}

export interface FirewallStatus {
  enabled: boolean;
  dryRun: boolean;
  revision: number;
  appliedRevision: number | null;
  appliedAt: number | null;
  upToDate: boolean;
  lastError: string | null;
  lastErrorAt: number | null;
  entries: number;
}

export interface BlockEntry {
  id: number;
  kind: 'domain' | 'organization' | 'role';
  target: string;
  client: string | null;
  action: 'block' | 'allow';
  createdAt: number;
  source: string;
  note: string | null;
}

export interface Collateral {
  client: string;
  address: string;
  blockedNames: string[];
  affectedName: string;
  effect: 'blocked' | 'unenforced';
}

export interface BlockPreview {
  entry: { kind: string; target: string; client: string | null; action: string };
  exists: boolean;
  covers: { client: string; name: string }[];
  coversTotal: number;
  collateral: Collateral[];
  before: Record<string, number>;
  after: Record<string, number>;
  newSets: string[];
  warnings: string[];
}

export interface CaptureStatus {
  source: string;
  state: string;
  detail: string;
  packets: number;
  bytes: number;
  queueDrops: number;
  kernelDrops: number | null;
  interfaceDrops: number | null;
  enabled: boolean;
  malformed: number;
}

export interface ImportResult {
  id: string;
  name: string;
  startedAt: string;
  durationMs: number;
  packets: number;
  clients: number;
  contacts: number;
  names: number;
  leaks: number;
  events: number;
  ok: boolean;
  error: string | null;
}

export interface Status {
  agent: {
    version: string;
    startedAt: string;
    safe: boolean;
    capture: CaptureStatus;
    store: { sizeBytes: number; lastWriteAt: string | null; writeErrors: number; lastError: string | null };
    ble: { enabled: boolean; state: string; detail: string; devices: number };
  } | null;
  firewall: FirewallStatus | null;
  lastApply: ApplySummary | null;
  devices: number | null;
  overview: {
    clients: number;
    parties: number;
    thirdParties: number;
    byRole: Facet[];
    byParty: Facet[];
    byCountry: Facet[];
    leaks: number;
    leaksByKind: Facet[];
  };
  captures: ImportResult[];
}
