/** System / light / dark, as a three-way segmented control. */
import { useTheme, type ThemeMode } from "../lib/theme";
import { Icon, type IconName } from "./Icon";

const MODES: { mode: ThemeMode; label: string; icon: IconName }[] = [
  { mode: "system", label: "System", icon: "monitor" },
  { mode: "light", label: "Light", icon: "sun" },
  { mode: "dark", label: "Dark", icon: "moon" },
];

export function ThemeToggle() {
  const { mode, setMode } = useTheme();
  return (
    <div className="segmented" role="radiogroup" aria-label="Theme">
      {MODES.map((option) => (
        <button key={option.mode} type="button" role="radio" aria-checked={mode === option.mode}
          className={mode === option.mode ? "active" : ""} onClick={() => setMode(option.mode)}
          title={`${option.label} theme`} aria-label={`${option.label} theme`}>
          <Icon name={option.icon} size={15} />
        </button>
      ))}
    </div>
  );
}
