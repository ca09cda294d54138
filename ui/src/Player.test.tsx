import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Player } from "./Player";
import { eventView, fake, resetFake } from "./test/fakeIpc";

vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));

beforeEach(resetFake);
afterEach(cleanup);

const list = [eventView("e3"), eventView("e2"), eventView("e1")];

function player(index = 1, over: Partial<Parameters<typeof Player>[0]> = {}) {
  const props = { list, index, onIndex: vi.fn(), onClose: vi.fn(), ...over };
  render(<Player {...props} />);
  return props;
}

describe("Player", () => {
  it("prefers the cached file over the URL", async () => {
    fake.openClip.mockResolvedValue({
      file: "/cache/clips/e2.mp4",
      url: "http://127.0.0.1:19000/c/e2.mp4",
      pending: false,
      problem: null,
    });
    player();
    const video = await screen.findByTestId("player-video");
    expect(fake.openClip).toHaveBeenCalledWith("e2");
    expect(video.getAttribute("src")).toBe(`asset://localhost/${encodeURIComponent("/cache/clips/e2.mp4")}`);
    expect(video.hasAttribute("controls")).toBe(true);
    expect(screen.getByTestId("player-offline").textContent).toContain("Available offline");
  });

  it("plays the URL when there is no cached file, and only an http(s) one", async () => {
    fake.openClip.mockResolvedValueOnce({ file: null, url: "https://cdn.example.net/e2.mp4", pending: false, problem: null });
    player();
    expect((await screen.findByTestId("player-video")).getAttribute("src")).toBe("https://cdn.example.net/e2.mp4");
    cleanup();
    fake.openClip.mockResolvedValueOnce({ file: null, url: "javascript:alert(1)", pending: false, problem: null });
    player();
    expect(await screen.findByText("This event has no playable clip.")).toBeTruthy();
    expect(screen.queryByTestId("player-video")).toBeNull();
  });

  it("shows the snapshot while the clip is pending and checks again when events change", async () => {
    const pendingList = [eventView("p", { url: "" }, { snapshot_src: "http://127.0.0.1:19000/s/p.jpg" })];
    fake.openClip.mockResolvedValue({ file: null, url: null, pending: true, problem: null });
    player(0, { list: pendingList });
    const pending = await screen.findByTestId("player-pending");
    expect(pending.textContent).toContain("clip pending");
    expect(pending.querySelector("img")?.getAttribute("src")).toBe("http://127.0.0.1:19000/s/p.jpg");
    expect(screen.queryByTestId("player-video")).toBeNull();

    fake.openClip.mockResolvedValue({ file: null, url: "http://127.0.0.1:19000/c/p.mp4", pending: false, problem: null });
    fake.getEvent.mockResolvedValue(eventView("p", {}, { snapshot_src: "http://127.0.0.1:19000/s/p.jpg" }));
    await act(async () => fake.eventsChanged.emit(1));
    const video = await screen.findByTestId("player-video");
    expect(video.getAttribute("src")).toBe("http://127.0.0.1:19000/c/p.mp4");
    expect(fake.openClip).toHaveBeenCalledTimes(2);
    expect(fake.getEvent).toHaveBeenCalledWith("p");
    expect(screen.queryByTestId("player-pending")).toBeNull();
  });

  it("asks for a fresh presigned URL when the open one is refused, and resumes there", async () => {
    const first = "http://127.0.0.1:19000/c/e2.mp4?X-Amz-Date=20261203T100000Z&X-Amz-Signature=aa";
    const second = "http://127.0.0.1:19000/c/e2.mp4?X-Amz-Date=20261203T101600Z&X-Amz-Signature=bb";
    fake.openClip
      .mockResolvedValueOnce({ file: null, url: first, pending: false, problem: null })
      .mockResolvedValueOnce({ file: null, url: second, pending: false, problem: null });
    player();
    const video = (await screen.findByTestId("player-video")) as HTMLVideoElement;
    expect(video.getAttribute("src")).toBe(first);
    fireEvent.loadedMetadata(video);
    video.currentTime = 2.5;
    // The URL expired: S3 answers 403 to the next range request and the element errors.
    fireEvent.error(video);
    await waitFor(() => expect(screen.getByTestId("player-video").getAttribute("src")).toBe(second));
    expect(fake.openClip).toHaveBeenCalledTimes(2);
    const fresh = screen.getByTestId("player-video") as HTMLVideoElement;
    fireEvent.loadedMetadata(fresh);
    expect(fresh.currentTime).toBe(2.5);
    expect(screen.queryByTestId("player-error")).toBeNull();
  });

  it("says so when a fresh URL is refused too, without asking forever", async () => {
    fake.openClip.mockImplementation(async () => ({
      file: null,
      url: `http://127.0.0.1:19000/c/e2.mp4?X-Amz-Signature=${fake.openClip.mock.calls.length}`,
      pending: false,
      problem: null,
    }));
    player();
    fireEvent.error(await screen.findByTestId("player-video"));
    await waitFor(() => expect(fake.openClip).toHaveBeenCalledTimes(2));
    await waitFor(() => expect(screen.getByTestId("player-video").getAttribute("src")).toContain("Signature=2"));
    fireEvent.error(screen.getByTestId("player-video"));
    expect((await screen.findByTestId("player-error")).textContent).toContain("the server refused it");
    expect(fake.openClip).toHaveBeenCalledTimes(2);
  });

  it("shows the problem text", async () => {
    fake.openClip.mockResolvedValue({ file: null, url: null, pending: false, problem: "the clip URL is not http(s): ftp://x" });
    player();
    expect((await screen.findByTestId("player-problem")).textContent).toBe("the clip URL is not http(s): ftp://x");
  });

  it("moves within the list with the buttons and the keys", async () => {
    const props = player(1);
    await screen.findByTestId("player");
    fireEvent.click(screen.getByTestId("player-prev"));
    expect(props.onIndex).toHaveBeenLastCalledWith(0);
    fireEvent.click(screen.getByTestId("player-next"));
    expect(props.onIndex).toHaveBeenLastCalledWith(2);
    const dialog = screen.getByTestId("player");
    fireEvent.keyDown(dialog, { key: "PageDown" });
    expect(props.onIndex).toHaveBeenLastCalledWith(2);
    fireEvent.keyDown(dialog, { key: "[" });
    expect(props.onIndex).toHaveBeenLastCalledWith(0);
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(props.onClose).toHaveBeenCalled();
  });

  it("has no previous at the top of the list and no next at its end", async () => {
    player(0, { list: [eventView("only")] });
    await screen.findByTestId("player");
    expect((screen.getByTestId("player-prev") as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId("player-next") as HTMLButtonElement).disabled).toBe(true);
  });

  it("plays, pauses and seeks with the keyboard", async () => {
    fake.openClip.mockResolvedValue({ file: null, url: "http://127.0.0.1:19000/c/e2.mp4", pending: false, problem: null });
    player();
    const video = (await screen.findByTestId("player-video")) as HTMLVideoElement;
    let paused = true;
    Object.defineProperty(video, "paused", { get: () => paused });
    Object.defineProperty(video, "duration", { value: 30 });
    video.play = vi.fn(() => {
      paused = false;
      return Promise.resolve();
    });
    video.pause = vi.fn(() => {
      paused = true;
    });
    video.currentTime = 10;
    fireEvent.keyDown(video, { key: " " });
    expect(video.play).toHaveBeenCalled();
    fireEvent.keyDown(video, { key: " " });
    expect(video.pause).toHaveBeenCalled();
    fireEvent.keyDown(video, { key: "ArrowRight" });
    expect(video.currentTime).toBe(15);
    fireEvent.keyDown(video, { key: "ArrowLeft" });
    fireEvent.keyDown(video, { key: "ArrowLeft" });
    fireEvent.keyDown(video, { key: "ArrowLeft" });
    expect(video.currentTime).toBe(0);
  });

  it("saves a copy and shows where", async () => {
    fake.openClip.mockResolvedValue({ file: null, url: "http://127.0.0.1:19000/c/e2.mp4", pending: false, problem: null });
    fake.saveClip.mockResolvedValue("/home/me/Downloads/Porch 2026-11-25 05-00-00.mp4");
    player();
    await screen.findByTestId("player-video");
    fireEvent.click(screen.getByTestId("player-download"));
    expect((await screen.findByTestId("player-saved")).textContent).toBe(
      "Saved to /home/me/Downloads/Porch 2026-11-25 05-00-00.mp4",
    );
    expect(fake.saveClip).toHaveBeenCalledWith("e2");
  });

  it("makes a clip available offline and shows the progress", async () => {
    fake.openClip.mockResolvedValue({ file: null, url: "http://127.0.0.1:19000/c/e2.mp4", pending: false, problem: null });
    fake.cacheClip.mockResolvedValue(null);
    player();
    await screen.findByTestId("player-video");
    const button = screen.getByTestId("player-offline");
    fireEvent.click(button);
    expect(fake.cacheClip).toHaveBeenCalledWith("e2");
    await act(async () => fake.clipProgress.emit({ event_id: "other", received: 1, total: 2, done: false, error: null }));
    expect(screen.queryByTestId("player-offline-progress")).toBeNull();
    await act(async () => fake.clipProgress.emit({ event_id: "e2", received: 1024 * 1024, total: 4 * 1024 * 1024, done: false, error: null }));
    expect(screen.getByTestId("player-offline-progress").textContent).toContain("1.0 MB of 4.0 MB");
    await act(async () => fake.clipProgress.emit({ event_id: "e2", received: 4 * 1024 * 1024, total: 4 * 1024 * 1024, done: true, error: null }));
    await waitFor(() => expect(screen.getByTestId("player-offline").textContent).toContain("Available offline"));
  });

  it("renders hostile event text literally", async () => {
    player(0, { list: [eventView("x", { message: "<img src=x onerror=alert(1)>", device_name: "<script>x</script>" })] });
    const dialog = await screen.findByTestId("player");
    expect(dialog.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(dialog.querySelector("script")).toBeNull();
    expect(dialog.querySelector('img[src="x"]')).toBeNull();
  });
});
