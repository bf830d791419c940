// The alarms pages' own navigation: the alarms, the rules that raise them, the channels that tell them.
import { NavLink } from "react-router";

export function AlarmTabs() {
  return (
    <nav aria-label="Alarm pages" className="tabs">
      <ul>
        <li><NavLink to="/alarms" end>Alarms</NavLink></li>
        <li><NavLink to="/alarms/rules">Rules</NavLink></li>
        <li><NavLink to="/alarms/channels">Channels</NavLink></li>
        <li><NavLink to="/profiles">Device profiles</NavLink></li>
      </ul>
    </nav>
  );
}
