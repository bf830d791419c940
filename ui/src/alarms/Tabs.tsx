// The alarms pages' own navigation: the alarms, the rules that raise them, the channels that tell them (keeping a
// platform admin's choice of tenant from one to the other).
import { NavLink } from "react-router";
import { tenantSearch, useTenantChoice } from "../lib/TenantPicker";

export function AlarmTabs() {
  const search = tenantSearch(useTenantChoice());
  return (
    <nav aria-label="Alarm pages" className="tabs">
      <ul>
        <li><NavLink to={{ pathname: "/alarms", search }} end>Alarms</NavLink></li>
        <li><NavLink to={{ pathname: "/alarms/rules", search }}>Rules</NavLink></li>
        <li><NavLink to={{ pathname: "/alarms/channels", search }}>Channels</NavLink></li>
        <li><NavLink to="/profiles">Device profiles</NavLink></li>
      </ul>
    </nav>
  );
}
