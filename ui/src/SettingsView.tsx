import { useEffect, useState, type ReactNode } from "react";
import type { CheckReport, IpcError, SettingsView as View } from "./bindings";
import { errorText, getSettings, openLogFolder, saveSettings, testConnection } from "./ipc";
import {
  formFromView,
  LIMITS,
  serverField,
  storedSecrets,
  toSecrets,
  toSettings,
  validate,
  withCurrentAlerts,
  type FieldErrors,
  type Form,
} from "./settingsForm";

type Busy = null | "testing" | "saving";

/** The event source, the clip bucket, alerts, storage and start on login. */
export function SettingsView() {
  const [view, setView] = useState<View | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [reports, setReports] = useState<CheckReport[] | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState<Busy>(null);
  const [logsError, setLogsError] = useState<string | null>(null);

  const openLogs = () => {
    openLogFolder()
      .then(() => setLogsError(null))
      .catch((err: unknown) => setLogsError(errorText(err)));
  };

  useEffect(() => {
    let mounted = true;
    getSettings()
      .then((v) => {
        if (!mounted) return;
        setView(v);
        setForm(formFromView(v));
      })
      .catch((err: unknown) => {
        if (mounted) setLoadError(errorText(err));
      });
    return () => {
      mounted = false;
    };
  }, []);

  if (loadError !== null) {
    return (
      <section className="view settings" aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <p className="error" role="alert">
          Cannot read the settings: {loadError}
        </p>
      </section>
    );
  }
  if (view === null || form === null) {
    return (
      <section className="view settings" aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <p className="empty">Loading…</p>
      </section>
    );
  }

  const stored = storedSecrets(view);
  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    setForm({ ...form, [key]: value });
    setSaved(false);
    if (errors[key]) {
      setErrors(Object.fromEntries(Object.entries(errors).filter(([k]) => k !== key)));
    }
  };
  const check = (): boolean => {
    const found = validate(form, stored);
    setErrors(found);
    setServerError(null);
    if (Object.keys(found).length > 0) {
      // Take the keyboard to the first problem.
      const first = Object.keys(found)[0];
      requestAnimationFrame(() => document.getElementById(`set-${first}`)?.focus());
      return false;
    }
    return true;
  };
  const failed = (err: unknown) => {
    const e = err as Partial<IpcError> | null;
    const message = e?.message ?? errorText(err);
    // The Rust side names the setting at fault; older messages only in backticks.
    const field = serverField(e?.field ? `\`${e.field}\`` : String(message));
    if (field) setErrors({ [field]: String(message) });
    setServerError(errorText(err));
  };
  const runTest = () => {
    if (!check()) return;
    setBusy("testing");
    setReports(null);
    testConnection(toSettings(form, view.settings), toSecrets(form))
      .then(setReports)
      .catch(failed)
      .finally(() => setBusy(null));
  };
  const save = () => {
    if (!check()) return;
    setBusy("saving");
    // Mutes and the snooze have their own commands (Devices, the tray) and may have changed
    // since this form was loaded: save the ones in force now, not the form's old copy.
    getSettings()
      .catch(() => view)
      .then((now) => saveSettings(toSettings(form, withCurrentAlerts(view.settings, now.settings)), toSecrets(form), form.startOnLogin))
      .then((v) => {
        setView(v);
        setForm(formFromView(v));
        setSaved(true);
      })
      .catch(failed)
      .finally(() => setBusy(null));
  };

  const text = (key: keyof Form, label: string, opts: { type?: string; placeholder?: string; hint?: ReactNode; autoComplete?: string } = {}) => (
    <Field id={`set-${key}`} label={label} error={errors[key]} hint={opts.hint}>
      <input
        id={`set-${key}`}
        data-testid={`settings-${key}`}
        type={opts.type ?? "text"}
        value={String(form[key])}
        placeholder={opts.placeholder}
        autoComplete={opts.autoComplete ?? "off"}
        spellCheck={false}
        aria-invalid={errors[key] ? true : undefined}
        aria-describedby={errors[key] ? `set-${key}-error` : undefined}
        onChange={(e) => set(key, e.target.value as never)}
      />
    </Field>
  );
  const secret = (key: "ksqldbSecret" | "kafkaPassword" | "s3Secret", clearKey: "ksqldbSecretClear" | "kafkaPasswordClear" | "s3SecretClear", label: string, isStored: boolean) => {
    const clearing = form[clearKey];
    const hint = clearing ? (
      <>
        The stored one is removed on save.{" "}
        <button type="button" className="link" onClick={() => set(clearKey, false)}>
          Keep it
        </button>
      </>
    ) : isStored ? (
      <>
        <span className="badge badge-ok" data-testid={`settings-${key}-stored`}>stored</span> Leave empty to keep it.{" "}
        <button type="button" className="link" data-testid={`settings-${key}-clear`} onClick={() => set(clearKey, true)}>
          Clear
        </button>
      </>
    ) : (
      "Kept in the system keyring, never in the settings file."
    );
    return text(key, label, {
      type: "password",
      placeholder: isStored && !clearing ? "•••••••• (stored)" : "",
      hint,
      autoComplete: "new-password",
    });
  };
  const check1 = (key: "s3Enabled" | "alertsEnabled" | "sound" | "quietEnabled" | "startOnLogin", label: string) => (
    <label className="check">
      <input type="checkbox" data-testid={`settings-${key}`} checked={form[key]} onChange={(e) => set(key, e.target.checked)} />
      {label}
    </label>
  );
  const problems = Object.keys(errors).length;

  return (
    <section className="view settings" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          save();
        }}
      >
        <fieldset>
          <legend>Event source</legend>
          {view.source_override ? (
            <p className="banner info" data-testid="settings-override">
              The event source now comes from the command line or environment ({view.source_override}). It
              wins over the source saved here until the app is started without it.
            </p>
          ) : null}
          <div className="radios" role="radiogroup" aria-label="Where events come from">
            {(
              [
                ["ksqldb", "ksqlDB (e.g. Confluent Cloud)"],
                ["kafka", "Kafka directly"],
                ["none", "None"],
              ] as const
            ).map(([value, label]) => (
              <label key={value} className="check">
                <input
                  type="radio"
                  name="source"
                  value={value}
                  data-testid={`settings-source-${value}`}
                  checked={form.source === value}
                  onChange={() => set("source", value)}
                />
                {label}
              </label>
            ))}
          </div>
          {form.source === "ksqldb" ? (
            <>
              {text("ksqldbUrl", "ksqlDB endpoint", { type: "url", placeholder: "https://pksqlc-xxxxx.region.aws.confluent.cloud" })}
              {text("ksqldbKey", "API key (or user name)", { hint: "Leave empty for a server without authentication." })}
              {secret("ksqldbSecret", "ksqldbSecretClear", "API secret (or password)", stored.ksqldb)}
              {text("ksqldbCaFile", "CA certificate file (PEM)", {
                placeholder: "/etc/ssl/private-ca.pem",
                hint: "Only for a server whose certificate comes from a private CA. Certificates are always verified.",
              })}
            </>
          ) : null}
          {form.source === "kafka" ? (
            <>
              {text("kafkaBootstrap", "Bootstrap servers", { placeholder: "broker1:9092,broker2:9092", hint: "host:port, comma-separated." })}
              {text("kafkaUser", "SASL user (Confluent Cloud: API key)", { hint: "Leave empty for a plaintext Kafka." })}
              {secret("kafkaPassword", "kafkaPasswordClear", "SASL password", stored.kafka)}
            </>
          ) : null}
          {form.source === "none" ? (
            <p className="muted">No events are followed; the cache keeps what it has.</p>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>Clip storage (S3)</legend>
          {check1("s3Enabled", "The clip bucket is private: presign clip URLs with a read-only key")}
          {form.s3Enabled ? (
            <>
              {text("s3Bucket", "Bucket")}
              {text("s3Region", "Region", { placeholder: "us-east-1" })}
              {text("s3Endpoint", "Endpoint", { type: "url", placeholder: "empty for AWS; e.g. http://minio.local:9000", hint: "For MinIO, R2 and other S3-compatible stores." })}
              {text("s3AccessKey", "Access key id (read-only)")}
              {secret("s3Secret", "s3SecretClear", "Secret access key", stored.s3)}
            </>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>Notifications</legend>
          {check1("alertsEnabled", "Show a notification for each motion event")}
          {check1("sound", "Play a sound")}
          <Field id="set-soundChoice" label="Sound">
            <select id="set-soundChoice" data-testid="settings-soundChoice" value={form.soundChoice} onChange={(e) => set("soundChoice", e.target.value === "ding_dong" ? "ding_dong" : "chime")}>
              <option value="chime">Chime</option>
              <option value="ding_dong">Ding-dong</option>
            </select>
          </Field>
          {text("volume", "Volume (%)", { type: "number" })}
          {check1("quietEnabled", "Quiet hours: no popups and no sound")}
          {form.quietEnabled ? (
            <div className="row">
              {text("quietStart", "From", { type: "time" })}
              {text("quietEnd", "Until", { type: "time" })}
            </div>
          ) : null}
          {text("holdOff", "Hold-off per camera (seconds)", {
            type: "number",
            hint: "At most one popup per camera in this time; the rest are summed up. 0 shows every event.",
          })}
        </fieldset>

        <fieldset>
          <legend>Storage</legend>
          {text("retentionDays", "Keep events for (days)", { type: "number", hint: "0 keeps everything." })}
          {text("clipCacheMib", "Offline clip cache (MiB)", { type: "number", hint: `From ${LIMITS.clipCacheMib.min} MiB; the least recently used clips go first.` })}
        </fieldset>

        <fieldset>
          <legend>System</legend>
          {check1("startOnLogin", "Start Motion in Motion when I log in")}
          <p className="muted">Settings file folder: {view.config_dir}</p>
          {view.log_dir !== null ? (
            <p className="muted">
              Log files: {view.log_dir}{" "}
              <button type="button" data-testid="settings-open-logs" onClick={openLogs}>
                Open log folder
              </button>
            </p>
          ) : null}
          {logsError !== null ? (
            <p className="error" role="alert" data-testid="settings-logs-error">
              {logsError}
            </p>
          ) : null}
        </fieldset>

        {problems > 0 ? (
          <p className="error" role="alert" data-testid="settings-invalid">
            {problems === 1 ? "One field needs attention." : `${problems} fields need attention.`}
          </p>
        ) : null}
        {serverError !== null ? (
          <p className="error" role="alert" data-testid="settings-server-error">
            {serverError}
          </p>
        ) : null}
        <div className="actions">
          <button type="button" data-testid="settings-test" onClick={runTest} disabled={busy !== null}>
            {busy === "testing" ? "Testing…" : "Test connection"}
          </button>
          <button type="submit" className="primary" data-testid="settings-save" disabled={busy !== null}>
            {busy === "saving" ? "Saving…" : "Save"}
          </button>
          {saved ? (
            <span className="ok" role="status" data-testid="settings-saved">
              Saved. The event source restarted with these settings.
            </span>
          ) : null}
        </div>
        {reports !== null ? (
          <ul className="reports" data-testid="settings-reports" aria-label="Connection test results">
            {reports.length === 0 ? <li className="muted">Nothing to test: no source and no bucket are set.</li> : null}
            {reports.map((r, i) => (
              <li key={i} className={r.ok ? "ok" : "error"} data-ok={r.ok}>
                <span aria-hidden="true">{r.ok ? "✓ " : "✗ "}</span>
                <strong>{r.target}</strong>: {r.detail}
                <span className="visually-hidden">{r.ok ? " (works)" : " (failed)"}</span>
              </li>
            ))}
          </ul>
        ) : null}
      </form>
    </section>
  );
}

function Field({ id, label, error, hint, children }: { id: string; label: string; error?: string | undefined; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className={`field${error ? " invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? <small className="hint muted">{hint}</small> : null}
      {error ? (
        <p className="field-error" id={`${id}-error`} data-testid={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
