// The settings form's pure parts: the form's fields from the stored settings (with defaults for
// everything the generated type leaves optional), client-side validation that names the field,
// and the form back to `Settings` + `NewSecrets` for the commands.
import type { NewSecrets, NotifySettings, Settings, SettingsView, SoundChoice } from "./bindings";
import { safeHttpUrl } from "./format";

export type SourceKind = "ksqldb" | "kafka" | "none";

export interface Form {
  source: SourceKind;
  ksqldbUrl: string;
  ksqldbKey: string;
  /** A PEM file of CA certificates to trust (a server with a private CA); empty for none. */
  ksqldbCaFile: string;
  ksqldbSecret: string;
  ksqldbSecretClear: boolean;
  kafkaBootstrap: string;
  kafkaUser: string;
  kafkaPassword: string;
  kafkaPasswordClear: boolean;
  s3Enabled: boolean;
  s3Bucket: string;
  s3Region: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3Secret: string;
  s3SecretClear: boolean;
  alertsEnabled: boolean;
  sound: boolean;
  soundChoice: SoundChoice;
  /** Percent, 0–100. */
  volume: string;
  quietEnabled: boolean;
  /** "HH:MM". */
  quietStart: string;
  quietEnd: string;
  holdOff: string;
  retentionDays: string;
  clipCacheMib: string;
  startOnLogin: boolean;
}

export type FieldErrors = Partial<Record<keyof Form, string>>;

/** Which secrets the keyring holds. */
export interface Stored {
  ksqldb: boolean;
  kafka: boolean;
  s3: boolean;
}

/** The Rust side's defaults (serde `default`), for fields a settings file may leave out. */
export const DEFAULT_ALERTS: Required<NotifySettings> = {
  enabled: true,
  sound: true,
  sound_choice: "chime",
  volume: 0.8,
  quiet_hours: null,
  hold_off_s: 60,
  muted_cameras: [],
  snoozed_until: null,
  outbox_growth_heartbeats: 5,
};
export const DEFAULT_REGION = "us-east-1";
export const DEFAULT_CLIP_CACHE_MIB = 2048;

export const LIMITS = {
  retentionDays: { min: 0, max: 36_500 },
  clipCacheMib: { min: 1, max: 10_485_760 },
  holdOff: { min: 0, max: 86_400 },
  volume: { min: 0, max: 100 },
} as const;

export function storedSecrets(v: SettingsView): Stored {
  return { ksqldb: v.ksqldb_secret_set, kafka: v.kafka_password_set, s3: v.s3_read_secret_set };
}

export function formFromView(v: SettingsView): Form {
  const s = v.settings;
  const a = { ...DEFAULT_ALERTS, ...definedOnly(s.alerts ?? {}) };
  const hhmm = (t: string | undefined, fallback: string) => (t ? t.slice(0, 5) : fallback);
  return {
    source: s.ksqldb_url ? "ksqldb" : s.kafka_bootstrap ? "kafka" : "none",
    ksqldbUrl: s.ksqldb_url ?? "",
    ksqldbKey: s.ksqldb_key ?? "",
    ksqldbCaFile: s.ksqldb_ca_file ?? "",
    ksqldbSecret: "",
    ksqldbSecretClear: false,
    kafkaBootstrap: s.kafka_bootstrap ?? "",
    kafkaUser: s.kafka_username ?? "",
    kafkaPassword: "",
    kafkaPasswordClear: false,
    s3Enabled: Boolean(s.s3_read),
    s3Bucket: s.s3_read?.bucket ?? "",
    s3Region: s.s3_read?.region ?? DEFAULT_REGION,
    s3Endpoint: s.s3_read?.endpoint ?? "",
    s3AccessKey: s.s3_read?.access_key_id ?? "",
    s3Secret: "",
    s3SecretClear: false,
    alertsEnabled: a.enabled,
    sound: a.sound,
    soundChoice: a.sound_choice,
    volume: String(Math.round((a.volume ?? DEFAULT_ALERTS.volume ?? 0.8) * 100)),
    quietEnabled: Boolean(a.quiet_hours),
    quietStart: hhmm(a.quiet_hours?.start, "22:00"),
    quietEnd: hhmm(a.quiet_hours?.end, "07:00"),
    holdOff: String(a.hold_off_s),
    retentionDays: String(s.retention_days ?? 0),
    clipCacheMib: String(s.clip_cache_mib ?? DEFAULT_CLIP_CACHE_MIB),
    startOnLogin: v.start_on_login,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** True for a whole http(s) URL with a host. */
export function isHttpUrl(value: string): boolean {
  const url = safeHttpUrl(value.trim());
  return url !== null && new URL(url).hostname !== "";
}

/** "host:port" or "host:port,host:port…", as the Rust side checks it. */
export function isBootstrapList(value: string): boolean {
  if (value.trim() === "") return false;
  return value.split(",").every((server) => {
    const s = server.trim();
    const colon = s.lastIndexOf(":");
    if (colon <= 0) return false;
    const port = s.slice(colon + 1);
    return /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535 && !/\s/.test(s);
  });
}

function intIn(value: string, min: number, max: number): boolean {
  return /^\d+$/.test(value.trim()) && Number(value) >= min && Number(value) <= max;
}

/** Every problem of the form, by field; empty when it may be tested or saved. */
export function validate(f: Form, stored: Stored): FieldErrors {
  const e: FieldErrors = {};
  const secretMissing = (typed: string, clear: boolean, isStored: boolean) =>
    typed.trim() === "" && (clear || !isStored);
  if (f.source === "ksqldb") {
    if (f.ksqldbUrl.trim() === "") e.ksqldbUrl = "Enter the ksqlDB endpoint, e.g. https://pksqlc-xxxxx.region.aws.confluent.cloud";
    else if (!isHttpUrl(f.ksqldbUrl)) e.ksqldbUrl = "Must be an http:// or https:// URL.";
    if (f.ksqldbKey.trim() !== "" && secretMissing(f.ksqldbSecret, f.ksqldbSecretClear, stored.ksqldb)) {
      e.ksqldbSecret = "Enter the secret of this API key.";
    }
    if (f.ksqldbKey.trim() === "" && f.ksqldbSecret.trim() !== "") {
      e.ksqldbKey = "Enter the API key this secret belongs to.";
    }
  }
  if (f.source === "kafka") {
    if (f.kafkaBootstrap.trim() === "") e.kafkaBootstrap = "Enter at least one bootstrap server as host:port.";
    else if (!isBootstrapList(f.kafkaBootstrap)) {
      e.kafkaBootstrap = "Must be host:port, comma-separated (e.g. broker1:9092,broker2:9092).";
    }
    if (f.kafkaUser.trim() !== "" && secretMissing(f.kafkaPassword, f.kafkaPasswordClear, stored.kafka)) {
      e.kafkaPassword = "Enter the SASL password of this user.";
    }
    if (f.kafkaUser.trim() === "" && f.kafkaPassword.trim() !== "") {
      e.kafkaUser = "Enter the SASL user this password belongs to.";
    }
  }
  if (f.s3Enabled) {
    if (f.s3Bucket.trim() === "") e.s3Bucket = "Enter the bucket the clips are in.";
    if (f.s3AccessKey.trim() === "") e.s3AccessKey = "Enter the read-only access key id.";
    if (f.s3Endpoint.trim() !== "" && !isHttpUrl(f.s3Endpoint)) e.s3Endpoint = "Must be an http:// or https:// URL, or empty for AWS.";
    if (secretMissing(f.s3Secret, f.s3SecretClear, stored.s3)) e.s3Secret = "Enter the secret access key.";
  }
  const L = LIMITS;
  if (!intIn(f.volume, L.volume.min, L.volume.max)) e.volume = "Must be a whole number from 0 to 100.";
  if (!intIn(f.holdOff, L.holdOff.min, L.holdOff.max)) e.holdOff = `Must be a whole number of seconds from 0 to ${L.holdOff.max}.`;
  if (!intIn(f.retentionDays, L.retentionDays.min, L.retentionDays.max)) {
    e.retentionDays = `Must be a whole number of days from 0 (keep everything) to ${L.retentionDays.max}.`;
  }
  if (!intIn(f.clipCacheMib, L.clipCacheMib.min, L.clipCacheMib.max)) {
    e.clipCacheMib = `Must be a whole number of MiB from 1 to ${L.clipCacheMib.max}.`;
  }
  if (f.quietEnabled) {
    const hm = /^([01]\d|2[0-3]):[0-5]\d$/;
    if (!hm.test(f.quietStart)) e.quietStart = "Enter a time as HH:MM.";
    if (!hm.test(f.quietEnd)) e.quietEnd = "Enter a time as HH:MM.";
    if (!e.quietStart && !e.quietEnd && f.quietStart === f.quietEnd) {
      e.quietEnd = "Start and end are the same, which is no quiet time at all.";
    }
  }
  return e;
}

const orNull = (s: string) => (s.trim() === "" ? null : s.trim());

/** The settings the form describes; what the form does not show is kept from `base`. */
export function toSettings(f: Form, base: Settings): Settings {
  const alerts = { ...DEFAULT_ALERTS, ...definedOnly(base.alerts ?? {}) };
  return {
    ...base,
    ksqldb_url: f.source === "ksqldb" ? orNull(f.ksqldbUrl) : null,
    ksqldb_key: f.source === "ksqldb" ? orNull(f.ksqldbKey) : null,
    ksqldb_ca_file: f.source === "ksqldb" ? orNull(f.ksqldbCaFile) : null,
    kafka_bootstrap: f.source === "kafka" ? orNull(f.kafkaBootstrap) : null,
    kafka_username: f.source === "kafka" ? orNull(f.kafkaUser) : null,
    s3_read: f.s3Enabled
      ? {
          bucket: f.s3Bucket.trim(),
          region: f.s3Region.trim() || DEFAULT_REGION,
          endpoint: orNull(f.s3Endpoint),
          access_key_id: f.s3AccessKey.trim(),
        }
      : null,
    retention_days: Number(f.retentionDays),
    clip_cache_mib: Number(f.clipCacheMib),
    alerts: {
      ...alerts,
      enabled: f.alertsEnabled,
      sound: f.sound,
      sound_choice: f.soundChoice,
      volume: Number(f.volume) / 100,
      quiet_hours: f.quietEnabled ? { start: `${f.quietStart}:00`, end: `${f.quietEnd}:00` } : null,
      hold_off_s: Number(f.holdOff),
    },
  };
}

/** `base` with the mutes and the snooze of `current` (the settings in force now). */
export function withCurrentAlerts(base: Settings, current: Settings): Settings {
  return {
    ...base,
    alerts: {
      ...base.alerts,
      muted_cameras: current.alerts?.muted_cameras ?? [],
      snoozed_until: current.alerts?.snoozed_until ?? null,
    },
  };
}

/** Typed secrets replace the stored ones, "clear" deletes them (""), empty keeps them (null). */
export function toSecrets(f: Form): NewSecrets {
  const one = (typed: string, clear: boolean) => (typed.trim() !== "" ? typed.trim() : clear ? "" : null);
  return {
    ksqldb_secret: one(f.ksqldbSecret, f.ksqldbSecretClear),
    kafka_password: one(f.kafkaPassword, f.kafkaPasswordClear),
    s3_read_secret: one(f.s3Secret, f.s3SecretClear),
  };
}

const SERVER_FIELDS: Record<string, keyof Form> = {
  ksqldb_url: "ksqldbUrl",
  ksqldb_key: "ksqldbKey",
  ksqldb_ca_file: "ksqldbCaFile",
  kafka_bootstrap: "kafkaBootstrap",
  kafka_username: "kafkaUser",
  "s3_read.bucket": "s3Bucket",
  "s3_read.region": "s3Region",
  "s3_read.endpoint": "s3Endpoint",
  "s3_read.access_key_id": "s3AccessKey",
  retention_days: "retentionDays",
  clip_cache_mib: "clipCacheMib",
  "alerts.hold_off_s": "holdOff",
  "alerts.volume": "volume",
  "alerts.quiet_hours": "quietStart",
};

/** The form field a server message ("setting `ksqldb_url`: …") names, when it names one. */
export function serverField(message: string): keyof Form | null {
  const m = /`([A-Za-z0-9_.]+)`/.exec(message);
  if (!m?.[1]) return null;
  return SERVER_FIELDS[m[1]] ?? null;
}
