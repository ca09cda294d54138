import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { ALL_LISTED_MAX, CameraFilter, camerasToList, MATCHES_SHOWN } from "./CameraFilter";
import { device } from "./test/fakeIpc";

afterEach(cleanup);

const fleet = (n: number) => Array.from({ length: n }, (_, i) => device(`cam-${String(i).padStart(4, "0")}`));

function Harness({ cameras }: { cameras: ReturnType<typeof fleet> }) {
  const [chosen, setChosen] = useState<string[]>([]);
  return (
    <>
      <CameraFilter cameras={cameras} chosen={chosen} onToggle={(id, on) => setChosen((c) => (on ? [...c, id] : c.filter((d) => d !== id)))} />
      <output data-testid="chosen">{chosen.join(",")}</output>
    </>
  );
}

const listedIds = () => screen.getAllByTestId("history-camera").map((b) => (b as HTMLInputElement).value);

describe("the camera filter", () => {
  it("lists a home's cameras as checkboxes, without a search field", () => {
    render(<Harness cameras={fleet(ALL_LISTED_MAX)} />);
    expect(screen.getAllByTestId("history-camera")).toHaveLength(ALL_LISTED_MAX);
    expect(screen.queryByTestId("history-camera-find")).toBeNull();
    expect(screen.queryByTestId("history-camera-more")).toBeNull();
  });

  it("shows a fleet's cameras a page at a time and finds the rest by name or id", () => {
    render(<Harness cameras={fleet(1000)} />);
    expect(screen.getAllByTestId("history-camera")).toHaveLength(MATCHES_SHOWN);
    expect(screen.getByTestId("history-camera-more").textContent).toBe(`${1000 - MATCHES_SHOWN} more cameras: type a name to find them`);

    fireEvent.change(screen.getByTestId("history-camera-find"), { target: { value: "CAM-099" } });
    expect(listedIds()).toEqual(Array.from({ length: 10 }, (_, i) => `cam-099${i}`));
    expect(screen.queryByTestId("history-camera-more")).toBeNull();

    fireEvent.click(screen.getAllByTestId("history-camera")[3] as HTMLElement);
    expect(screen.getByTestId("chosen").textContent).toBe("cam-0993");
    expect(screen.getByText("Cameras (1 of 1000)")).toBeTruthy();
  });

  it("keeps chosen cameras listed, so they can be unticked, whatever is being looked for", () => {
    render(<Harness cameras={fleet(50)} />);
    fireEvent.change(screen.getByTestId("history-camera-find"), { target: { value: "cam-0042" } });
    fireEvent.click(screen.getByTestId("history-camera"));
    fireEvent.change(screen.getByTestId("history-camera-find"), { target: { value: "nothing like it" } });
    expect(listedIds()).toEqual(["cam-0042"]);
    expect(screen.getByTestId("history-camera-none").textContent).toBe("No other camera's name or id contains “nothing like it”.");
    fireEvent.click(screen.getByTestId("history-camera"));
    expect(screen.getByTestId("chosen").textContent).toBe("");
  });

  it("counts the matches it leaves out", () => {
    const cams = fleet(100);
    const { listed, matches, more } = camerasToList(cams, ["cam-0099", "not-a-camera"], "cam-00");
    expect(listed[0]?.device_id).toBe("cam-0099");
    expect(listed).toHaveLength(1 + MATCHES_SHOWN);
    expect(matches).toBe(99);
    expect(more).toBe(99 - MATCHES_SHOWN);
  });
});
