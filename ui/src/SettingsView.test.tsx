import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Settings } from "./bindings";
import {
  DEFAULT_ALERTS,
  formFromView,
  isBootstrapList,
  serverField,
  toSecrets,
  toSettings,
  validate,
} from "./settingsForm";
import { SettingsView } from "./SettingsView";
import { fake, resetFake, settingsView } from "./test/fakeIpc";

vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));

beforeEach(resetFake);
afterEach(cleanup);

const none = { ksqldb: false, kafka: false, s3: false };

describe("settings form", () => {
  it("fills in defaults for everything the file leaves out", () => {
    const f = formFromView(settingsView());
    expect(f).toMatchObject({
      source: "none",
      alertsEnabled: true,
      sound: true,
      soundChoice: "chime",
      volume: "80",
      holdOff: "60",
      retentionDays: "0",
      clipCacheMib: "2048",
      quietEnabled: false,
    });
    expect(validate(f, none)).toEqual({});
  });

  it("round-trips the settings and keeps what the form does not show", () => {
    const stored: Settings = {
      ksqldb_url: "https://ksql.example.net",
      ksqldb_key: "KEY",
      retention_days: 30,
      clip_cache_mib: 512,
      alerts: {
        ...DEFAULT_ALERTS,
        muted_cameras: ["garage"],
        snoozed_until: "2026-11-26T06:00:00Z",
        quiet_hours: { start: "22:00:00", end: "07:00:00" },
        sound_choice: "ding_dong",
      },
    };
    const f = formFromView(settingsView({ ksqldb_secret_set: true }, stored));
    expect(f).toMatchObject({ source: "ksqldb", quietEnabled: true, quietStart: "22:00", quietEnd: "07:00", soundChoice: "ding_dong" });
    const back = toSettings(f, stored);
    expect(back).toEqual({ ...stored, ksqldb_ca_file: null, kafka_bootstrap: null, kafka_username: null, s3_read: null });
    // A private CA's file, when set, goes back as it came.
    const withCa = { ...stored, ksqldb_ca_file: "/etc/ssl/home-ca.pem" };
    const f2 = formFromView(settingsView({ ksqldb_secret_set: true }, withCa));
    expect(f2.ksqldbCaFile).toBe("/etc/ssl/home-ca.pem");
    expect(toSettings(f2, withCa).ksqldb_ca_file).toBe("/etc/ssl/home-ca.pem");
    expect(toSecrets(f)).toEqual({ ksqldb_secret: null, kafka_password: null, s3_read_secret: null });
  });

  it("sends typed secrets, keeps empty ones and clears on request", () => {
    const f = { ...formFromView(settingsView()), ksqldbSecret: " s3cret ", kafkaPasswordClear: true };
    expect(toSecrets(f)).toEqual({ ksqldb_secret: "s3cret", kafka_password: "", s3_read_secret: null });
  });

  it("checks bootstrap lists like the Rust side", () => {
    expect(isBootstrapList("localhost:9092")).toBe(true);
    expect(isBootstrapList("a:9092, b:9093")).toBe(true);
    expect(isBootstrapList("[::1]:9092")).toBe(true);
    for (const bad of ["", "localhost", ":9092", "a:port", "a:70000", "a:9092,", "a b:9092"]) {
      expect(isBootstrapList(bad)).toBe(false);
    }
  });

  it("names the field of a server error", () => {
    expect(serverField("setting `ksqldb_url`: must be an http:// or https:// URL")).toBe("ksqldbUrl");
    expect(serverField("setting `s3_read.access_key_id`: its secret key is not in the keyring")).toBe("s3AccessKey");
    expect(serverField("keyring unavailable")).toBeNull();
  });
});

async function loaded(view = settingsView(), settings?: Settings) {
  fake.getSettings.mockResolvedValue(settings ? { ...view, settings } : view);
  render(<SettingsView />);
  await screen.findByTestId("settings-save");
}

describe("Settings", () => {
  it("shows validation messages next to the fields and sends nothing", async () => {
    await loaded();
    fireEvent.click(screen.getByTestId("settings-source-ksqldb"));
    fireEvent.change(screen.getByTestId("settings-ksqldbUrl"), { target: { value: "ftp://ksql" } });
    fireEvent.change(screen.getByTestId("settings-ksqldbKey"), { target: { value: "KEY" } });
    fireEvent.change(screen.getByTestId("settings-holdOff"), { target: { value: "-1" } });
    fireEvent.change(screen.getByTestId("settings-clipCacheMib"), { target: { value: "0" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    expect(screen.getByTestId("set-ksqldbUrl-error").textContent).toBe("Must be an http:// or https:// URL.");
    expect(screen.getByTestId("set-ksqldbSecret-error").textContent).toContain("secret");
    expect(screen.getByTestId("set-holdOff-error").textContent).toContain("0 to 86400");
    expect(screen.getByTestId("set-clipCacheMib-error").textContent).toContain("from 1");
    expect(screen.getByTestId("settings-invalid").textContent).toContain("4 fields");
    expect(screen.getByTestId("settings-ksqldbUrl").getAttribute("aria-invalid")).toBe("true");
    expect(fake.saveSettings).not.toHaveBeenCalled();

    fireEvent.change(screen.getByTestId("settings-ksqldbUrl"), { target: { value: "https://ksql.example.net" } });
    expect(screen.queryByTestId("set-ksqldbUrl-error")).toBeNull();
  });

  it("checks the Kafka bootstrap list", async () => {
    await loaded();
    fireEvent.click(screen.getByTestId("settings-source-kafka"));
    fireEvent.change(screen.getByTestId("settings-kafkaBootstrap"), { target: { value: "broker-without-port" } });
    fireEvent.click(screen.getByTestId("settings-test"));
    expect(screen.getByTestId("set-kafkaBootstrap-error").textContent).toContain("host:port");
    expect(fake.testConnection).not.toHaveBeenCalled();
  });

  it("saves the settings with the secrets and start on login", async () => {
    await loaded();
    fake.saveSettings.mockImplementation((s) => Promise.resolve(settingsView({ kafka_password_set: true, start_on_login: true }, s)));
    fireEvent.click(screen.getByTestId("settings-source-kafka"));
    fireEvent.change(screen.getByTestId("settings-kafkaBootstrap"), { target: { value: "broker1:9092,broker2:9092" } });
    fireEvent.change(screen.getByTestId("settings-kafkaUser"), { target: { value: "API_KEY" } });
    fireEvent.change(screen.getByTestId("settings-kafkaPassword"), { target: { value: "hunter2" } });
    fireEvent.click(screen.getByTestId("settings-startOnLogin"));
    fireEvent.click(screen.getByTestId("settings-save"));
    await screen.findByTestId("settings-saved");
    const [settings, secrets, startOnLogin] = fake.saveSettings.mock.calls[0] ?? [];
    expect(settings).toMatchObject({ kafka_bootstrap: "broker1:9092,broker2:9092", kafka_username: "API_KEY", ksqldb_url: null });
    expect(secrets).toEqual({ ksqldb_secret: null, kafka_password: "hunter2", s3_read_secret: null });
    expect(startOnLogin).toBe(true);
    // The secret went to the keyring: the field is empty again and says "stored".
    expect((screen.getByTestId("settings-kafkaPassword") as HTMLInputElement).value).toBe("");
    expect(screen.getByTestId("settings-kafkaPassword-stored").textContent).toBe("stored");
  });

  it("keeps a stored secret unless cleared, and clearing sends an empty one", async () => {
    await loaded(settingsView({ ksqldb_secret_set: true }), { ksqldb_url: "https://ksql.example.net", ksqldb_key: "KEY" });
    fake.saveSettings.mockImplementation((s) => Promise.resolve(settingsView({ ksqldb_secret_set: true }, s)));
    expect(screen.getByTestId("settings-ksqldbSecret-stored")).toBeTruthy();
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(fake.saveSettings).toHaveBeenCalledTimes(1));
    expect(fake.saveSettings.mock.calls[0]?.[1].ksqldb_secret).toBeNull();
    await screen.findByTestId("settings-saved");

    fireEvent.click(screen.getByTestId("settings-ksqldbSecret-clear"));
    fireEvent.change(screen.getByTestId("settings-ksqldbKey"), { target: { value: "" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(fake.saveSettings).toHaveBeenCalledTimes(2));
    expect(fake.saveSettings.mock.calls[1]?.[1].ksqldb_secret).toBe("");
  });

  it("keeps mutes and a snooze made elsewhere since the form was loaded", async () => {
    await loaded(settingsView(), { alerts: { muted_cameras: [], snoozed_until: null, hold_off_s: 30 } });
    fake.getSettings.mockResolvedValue(
      settingsView({}, { alerts: { muted_cameras: ["garage"], snoozed_until: "2026-11-26T06:00:00Z", hold_off_s: 30 } }),
    );
    fake.saveSettings.mockImplementation((s) => Promise.resolve(settingsView({}, s)));
    fireEvent.change(screen.getByTestId("settings-holdOff"), { target: { value: "90" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await screen.findByTestId("settings-saved");
    expect(fake.saveSettings.mock.calls[0]?.[0].alerts).toMatchObject({
      hold_off_s: 90,
      muted_cameras: ["garage"],
      snoozed_until: "2026-11-26T06:00:00Z",
    });
  });

  it("shows a server error next to the field it names", async () => {
    await loaded();
    fake.saveSettings.mockRejectedValue({ kind: "settings", message: "setting `ksqldb_url`: must be an http:// or https:// URL" });
    fireEvent.click(screen.getByTestId("settings-source-ksqldb"));
    fireEvent.change(screen.getByTestId("settings-ksqldbUrl"), { target: { value: "http://x" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    expect((await screen.findByTestId("set-ksqldbUrl-error")).textContent).toContain("must be an http:// or https:// URL");
    expect(screen.getByTestId("settings-server-error").textContent).toContain("(settings)");
  });

  it("opens the log folder, and says why when the desktop cannot", async () => {
    await loaded();
    expect(screen.getByText(/Log files: \/home\/me\/.local\/share\/com.motioninmotion.desktop\/logs/)).toBeTruthy();
    fake.openLogFolder.mockRejectedValueOnce({ kind: "desktop", message: "cannot open /home/me/logs: no file manager" });
    fireEvent.click(screen.getByTestId("settings-open-logs"));
    expect((await screen.findByTestId("settings-logs-error")).textContent).toContain("no file manager");
    fake.openLogFolder.mockResolvedValueOnce(null);
    fireEvent.click(screen.getByTestId("settings-open-logs"));
    await waitFor(() => expect(screen.queryByTestId("settings-logs-error")).toBeNull());
    expect(fake.openLogFolder).toHaveBeenCalledTimes(2);
  });

  it("tests the connection and lists each report", async () => {
    await loaded();
    fake.testConnection.mockResolvedValue([
      { ok: true, target: "ksqlDB at https://ksql.example.net", detail: "ksqlDB 0.29.0, RUNNING" },
      { ok: false, target: "S3 bucket clips", detail: "access denied: check the read-only key" },
    ]);
    fireEvent.click(screen.getByTestId("settings-source-ksqldb"));
    fireEvent.change(screen.getByTestId("settings-ksqldbUrl"), { target: { value: "https://ksql.example.net" } });
    fireEvent.click(screen.getByTestId("settings-test"));
    const reports = await screen.findByTestId("settings-reports");
    const lines = [...reports.querySelectorAll("li")];
    expect(lines).toHaveLength(2);
    expect(lines[0]?.textContent).toContain("ksqlDB 0.29.0, RUNNING");
    expect(lines[0]?.dataset.ok).toBe("true");
    expect(lines[1]?.textContent).toContain("access denied");
    expect(lines[1]?.dataset.ok).toBe("false");
    expect(fake.testConnection.mock.calls[0]?.[0]).toMatchObject({ ksqldb_url: "https://ksql.example.net" });
  });

  it("says when the source comes from the command line", async () => {
    await loaded(settingsView({ source_override: "ksqlDB at http://127.0.0.1:8088" }));
    expect(screen.getByTestId("settings-override").textContent).toContain("ksqlDB at http://127.0.0.1:8088");
  });

  it("validates S3, quiet hours and numbers", async () => {
    await loaded();
    fireEvent.click(screen.getByTestId("settings-s3Enabled"));
    fireEvent.change(screen.getByTestId("settings-s3Endpoint"), { target: { value: "minio:9000" } });
    fireEvent.click(screen.getByTestId("settings-quietEnabled"));
    fireEvent.change(screen.getByTestId("settings-quietEnd"), { target: { value: "22:00" } });
    fireEvent.change(screen.getByTestId("settings-volume"), { target: { value: "150" } });
    fireEvent.change(screen.getByTestId("settings-retentionDays"), { target: { value: "1.5" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    expect(screen.getByTestId("set-s3Bucket-error")).toBeTruthy();
    expect(screen.getByTestId("set-s3AccessKey-error")).toBeTruthy();
    expect(screen.getByTestId("set-s3Secret-error")).toBeTruthy();
    expect(screen.getByTestId("set-s3Endpoint-error").textContent).toContain("http");
    expect(screen.getByTestId("set-quietEnd-error").textContent).toContain("same");
    expect(screen.getByTestId("set-volume-error").textContent).toContain("0 to 100");
    expect(screen.getByTestId("set-retentionDays-error").textContent).toContain("whole number");
    expect(fake.saveSettings).not.toHaveBeenCalled();
  });

  it("shows why the settings cannot be read", async () => {
    fake.getSettings.mockRejectedValue({ kind: "settings", message: "settings.json: `alerts`: unknown field" });
    render(<SettingsView />);
    expect((await screen.findByRole("alert")).textContent).toContain("unknown field");
  });
});
