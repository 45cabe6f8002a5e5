/**
 * Reports: build a PDF of the overview or of chosen insights over a date range and download it; schedule the
 * report by email (daily or weekly, to members, through an email channel), send one now, and see what the
 * last send did. Every role downloads; ADMIN and DEVELOPER manage schedules.
 */
import { useMemo, useState, type FormEvent } from "react";
import { gql, useMutation, useQuery } from "urql";
import { DateRangePicker } from "../components/DateRangePicker";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { useProject } from "../lib/project";
import { downloadReport, type ReportContent, type ReportItem, type ReportKind } from "../lib/reports";
import { formatDateTime, presetById } from "../lib/time";

const FIELDS = "id name report frequency weekday hour recipients { id email } channelId enabled nextRunAt lastRunAt lastStatus lastError";
const SCHEDULES = gql`query ReportSchedules($projectId: ID!) { reportSchedules(projectId: $projectId) { ${FIELDS} } }`;
const CHOICES = gql`query ReportChoices($projectId: ID) {
  reportRecipients { id email name }
  alertChannels(projectId: $projectId) { id kind name }
}`;
const CREATE = gql`mutation CreateReportSchedule($projectId: ID!, $schedule: ReportScheduleInput!) {
  createReportSchedule(projectId: $projectId, schedule: $schedule) { ${FIELDS} } }`;
const SEND_NOW = gql`mutation SendReportNow($id: ID!) { sendReportNow(scheduleId: $id) { ${FIELDS} } }`;
const DELETE = gql`mutation DeleteReportSchedule($id: ID!) { deleteReportSchedule(id: $id) }`;

interface Schedule {
  id: string;
  name: string;
  report: ReportContent;
  frequency: "DAILY" | "WEEKLY";
  weekday: number | null;
  hour: number;
  recipients: { id: string; email: string }[];
  channelId: string | null;
  enabled: boolean;
  nextRunAt: string;
  lastRunAt: string | null;
  lastStatus: "SENDING" | "SENT" | "FAILED" | null;
  lastError: string | null;
}

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MATHS = ["TOTAL", "UNIQUE_PERSONS"];
const SESSION_BREAKDOWNS = ["", "BROWSER", "COUNTRY", "DEVICE_TYPE", "REFERRER_CHANNEL", "UTM_SOURCE", "ENTRY_PAGE"];

function words(text: string): string[] {
  return text.split(",").map((word) => word.trim()).filter(Boolean);
}

/** One insight's small form; `onChange` receives the item as the report's JSON wants it. */
function ItemEditor({ item, onChange, onRemove, index }: {
  item: ReportItem; onChange: (item: ReportItem) => void; onRemove: () => void; index: number;
}) {
  const label = `Insight ${index + 1}`;
  // The steps as typed (commas included); the item gets the parsed list.
  const [stepsText, setStepsText] = useState(item.type === "FUNNEL" ? item.steps.map((step) => step.event).join(", ") : "");
  return (
    <div className="form-row" aria-label={label} role="group">
      <strong className="nowrap">{index + 1}. {item.type.toLowerCase()}</strong>
      {item.type === "TRENDS" ? (
        <>
          <input className="input" aria-label={`${label} event`} placeholder="event (empty: all events)"
            value={item.series[0]?.event ?? ""} maxLength={200}
            onChange={(e) => onChange({ ...item, series: [{ ...item.series[0]!, event: e.target.value || null }] })} />
          <select aria-label={`${label} math`} value={item.series[0]?.math}
            onChange={(e) => onChange({ ...item, series: [{ ...item.series[0]!, math: e.target.value }] })}>
            {MATHS.map((math) => <option key={math} value={math}>{math.toLowerCase().replace("_", " ")}</option>)}
          </select>
        </>
      ) : null}
      {item.type === "FUNNEL" ? (
        <input className="input grow" aria-label={`${label} steps`} placeholder="steps, comma separated"
          value={stepsText}
          onChange={(e) => {
            setStepsText(e.target.value);
            onChange({ ...item, steps: words(e.target.value).map((event) => ({ event })) });
          }} />
      ) : null}
      {item.type === "RETENTION" ? (
        <>
          <input className="input" aria-label={`${label} start event`} placeholder="start event" value={item.startEvent}
            onChange={(e) => onChange({ ...item, startEvent: e.target.value })} />
          <input className="input" aria-label={`${label} return event`} placeholder="return event" value={item.returnEvent}
            onChange={(e) => onChange({ ...item, returnEvent: e.target.value })} />
          <select aria-label={`${label} period`} value={item.period}
            onChange={(e) => onChange({ ...item, period: e.target.value })}>
            {["DAY", "WEEK", "MONTH"].map((period) => <option key={period} value={period}>{period.toLowerCase()}</option>)}
          </select>
        </>
      ) : null}
      {item.type === "SESSIONS" ? (
        <select aria-label={`${label} breakdown`} value={item.breakdown ?? ""}
          onChange={(e) => onChange({ ...item, breakdown: e.target.value || null })}>
          {SESSION_BREAKDOWNS.map((value) => (
            <option key={value} value={value}>{value ? `by ${value.toLowerCase().replace("_", " ")}` : "no breakdown"}</option>
          ))}
        </select>
      ) : null}
      <button type="button" className="button button-small button-ghost" onClick={onRemove}>Remove</button>
    </div>
  );
}

const NEW_ITEMS: Record<ReportItem["type"], ReportItem> = {
  TRENDS: { type: "TRENDS", series: [{ event: null, math: "TOTAL" }] },
  FUNNEL: { type: "FUNNEL", steps: [] },
  RETENTION: { type: "RETENTION", startEvent: "", returnEvent: "", period: "DAY", periods: 7 },
  SESSIONS: { type: "SESSIONS", breakdown: null },
};

function ScheduleForm({ projectId, content, onSaved }: { projectId: string; content: ReportContent; onSaved: () => void }) {
  const [choices] = useQuery<{ reportRecipients: { id: string; email: string; name: string }[];
    alertChannels: { id: string; kind: string; name: string }[] }>({ query: CHOICES, variables: { projectId } });
  const [name, setName] = useState("");
  const [frequency, setFrequency] = useState<"DAILY" | "WEEKLY">("WEEKLY");
  const [weekday, setWeekday] = useState(0);
  const [hour, setHour] = useState(8);
  const [recipients, setRecipients] = useState<string[]>([]);
  const [channelId, setChannelId] = useState("");
  const [result, create] = useMutation(CREATE);
  const channels = (choices.data?.alertChannels ?? []).filter((channel) => channel.kind === "EMAIL");
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const done = await create({ projectId, schedule: {
      name: name.trim(), report: content, frequency, hour, recipientIds: recipients,
      channelId: channelId || channels[0]?.id, weekday: frequency === "WEEKLY" ? weekday : null,
    } });
    if (!done.error) {
      setName("");
      onSaved();
    }
  };
  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Schedule this report">
      <strong>Email this report on a schedule</strong>
      <div className="form-row">
        <label className="field grow">
          <span className="field-label">Name</span>
          <input className="input" aria-label="Schedule name" required maxLength={200} value={name}
            placeholder="Monday numbers" onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Every</span>
          <select aria-label="Frequency" value={frequency} onChange={(e) => setFrequency(e.target.value as "DAILY" | "WEEKLY")}>
            <option value="DAILY">day</option>
            <option value="WEEKLY">week</option>
          </select>
        </label>
        {frequency === "WEEKLY" ? (
          <label className="field">
            <span className="field-label">On</span>
            <select aria-label="Weekday" value={weekday} onChange={(e) => setWeekday(Number(e.target.value))}>
              {WEEKDAYS.map((day, index) => <option key={day} value={index}>{day}</option>)}
            </select>
          </label>
        ) : null}
        <label className="field">
          <span className="field-label">At</span>
          <select aria-label="Hour" value={hour} onChange={(e) => setHour(Number(e.target.value))}>
            {Array.from({ length: 24 }, (_, h) => <option key={h} value={h}>{`${String(h).padStart(2, "0")}:00`}</option>)}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Through</span>
          <select aria-label="Email channel" value={channelId || channels[0]?.id || ""} onChange={(e) => setChannelId(e.target.value)}>
            {channels.length === 0 ? <option value="">no email channel: add one under Alerts</option> : null}
            {channels.map((channel) => <option key={channel.id} value={channel.id}>{channel.name}</option>)}
          </select>
        </label>
      </div>
      <div className="alerts-channels" role="group" aria-label="Recipients">
        <span className="field-label">To</span>
        {(choices.data?.reportRecipients ?? []).map((member) => (
          <label key={member.id} className="checkbox">
            <input type="checkbox" checked={recipients.includes(member.id)} onChange={(e) => setRecipients(
              e.target.checked ? [...recipients, member.id] : recipients.filter((id) => id !== member.id))} />
            {member.name ? `${member.name} <${member.email}>` : member.email}
          </label>
        ))}
      </div>
      <div className="form-row">
        <button type="submit" className="button button-primary"
          disabled={result.fetching || !name.trim() || recipients.length === 0 || channels.length === 0}>
          {result.fetching ? "Saving…" : "Schedule"}
        </button>
        <span className="muted">Daily reports cover the previous day, weekly ones the previous seven days.</span>
      </div>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
    </form>
  );
}

function ScheduleRow({ schedule, timezone, canManage, onChanged }: {
  schedule: Schedule; timezone: string; canManage: boolean; onChanged: () => void;
}) {
  const [sendResult, send] = useMutation<{ sendReportNow: Schedule }>(SEND_NOW);
  const [deleteResult, remove] = useMutation(DELETE);
  const when = schedule.frequency === "DAILY" ? "daily" : `${WEEKDAYS[schedule.weekday ?? 0]}s`;
  const status = sendResult.data?.sendReportNow ?? schedule;
  const error = sendResult.error ?? deleteResult.error;
  return (
    <tr data-schedule-id={schedule.id}>
      <td><strong>{schedule.name}</strong><div className="muted">{schedule.report.title}</div></td>
      <td className="nowrap">{when} at {String(schedule.hour).padStart(2, "0")}:00</td>
      <td>{schedule.recipients.map((recipient) => recipient.email).join(", ")}</td>
      <td className="nowrap">{formatDateTime(schedule.nextRunAt, timezone)}</td>
      <td data-testid="report-status">
        {status.lastStatus === null ? <span className="muted">never sent</span> : (
          <span className={`badge ${status.lastStatus === "SENT" ? "badge-ok" : status.lastStatus === "FAILED" ? "badge-danger" : "badge-off"}`}
            title={status.lastError ?? undefined}>
            {status.lastStatus.toLowerCase()}{status.lastRunAt ? ` · ${formatDateTime(status.lastRunAt, timezone)}` : ""}
          </span>
        )}
        {status.lastError ? <div className="inline-error">{status.lastError}</div> : null}
      </td>
      <td className="actions">
        {error ? <span className="inline-error" role="alert">{errorMessage(error)}</span> : null}
        {canManage ? (
          <>
            <button type="button" className="button button-small" disabled={sendResult.fetching}
              onClick={() => void send({ id: schedule.id })}>{sendResult.fetching ? "Sending…" : "Send now"}</button>
            <button type="button" className="button button-small button-danger" disabled={deleteResult.fetching}
              onClick={async () => {
                if (!window.confirm(`Delete the schedule “${schedule.name}”?`)) return;
                if (!(await remove({ id: schedule.id })).error) onChanged();
              }}>Delete</button>
          </>
        ) : null}
      </td>
    </tr>
  );
}

export default function ReportsPage() {
  const project = useProject();
  const user = useUser();
  const canManage = user.role !== "VIEWER";
  const [rangeId, setRangeId] = useState("7d");
  const [kind, setKind] = useState<ReportKind>("OVERVIEW");
  const [title, setTitle] = useState("");
  const [items, setItems] = useState<ReportItem[]>([]);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const [schedules, reexecute] = useQuery<{ reportSchedules: Schedule[] }>({
    query: SCHEDULES, variables: { projectId: project.id },
  });
  const reload = () => reexecute({ requestPolicy: "network-only" });
  const content = useMemo<ReportContent>(() => ({
    title: title.trim() || (kind === "OVERVIEW" ? "Overview" : "Insights"),
    kind, ...(kind === "INSIGHTS" ? { items } : {}),
  }), [title, kind, items]);

  const download = async (event: FormEvent) => {
    event.preventDefault();
    setDownloading(true);
    setDownloadError(null);
    try {
      await downloadReport(project.id, presetById(rangeId).range(project.timezone), content);
    } catch (error) {
      setDownloadError(errorMessage(error as Error));
    } finally {
      setDownloading(false);
    }
  };
  const list = schedules.data?.reportSchedules ?? [];

  return (
    <div className="page">
      <PageHeader title="Reports" description={<>PDF reports of {project.name} · times in {project.timezone}</>} />
      <form className="card form form-inline-card" onSubmit={download} aria-label="Build a report">
        <div className="form-row">
          <label className="field">
            <span className="field-label">Report</span>
            <select aria-label="Report kind" value={kind} onChange={(e) => setKind(e.target.value as ReportKind)}>
              <option value="OVERVIEW">Overview dashboard</option>
              <option value="INSIGHTS">Chosen insights</option>
            </select>
          </label>
          <label className="field grow">
            <span className="field-label">Title</span>
            <input className="input" aria-label="Title" maxLength={200} value={title}
              placeholder={kind === "OVERVIEW" ? "Overview" : "Insights"} onChange={(e) => setTitle(e.target.value)} />
          </label>
          <div className="field">
            <span className="field-label">Range</span>
            <DateRangePicker value={rangeId} onChange={setRangeId} />
          </div>
        </div>
        {kind === "INSIGHTS" ? (
          <>
            {items.map((item, index) => (
              <ItemEditor key={index} item={item} index={index}
                onChange={(changed) => setItems(items.map((old, at) => (at === index ? changed : old)))}
                onRemove={() => setItems(items.filter((_, at) => at !== index))} />
            ))}
            <div className="form-row">
              {(Object.keys(NEW_ITEMS) as ReportItem["type"][]).map((type) => (
                <button key={type} type="button" className="button button-small" disabled={items.length >= 12}
                  onClick={() => setItems([...items, NEW_ITEMS[type]])}>+ {type.toLowerCase()}</button>
              ))}
            </div>
          </>
        ) : null}
        <div className="form-row">
          <button type="submit" className="button button-primary"
            disabled={downloading || (kind === "INSIGHTS" && items.length === 0)}>
            {downloading ? "Building…" : "Download PDF"}
          </button>
        </div>
        {downloadError ? <div className="alert alert-error" role="alert">{downloadError}</div> : null}
      </form>
      {canManage ? <ScheduleForm projectId={project.id} content={content} onSaved={reload} /> : null}
      {schedules.fetching && !schedules.data ? <LoadingState /> : null}
      {schedules.error ? <ErrorState error={schedules.error} onRetry={reload} /> : null}
      {schedules.data && list.length === 0 ? (
        <EmptyState title="No scheduled reports">
          {canManage ? "Build a report above and schedule it." : "An admin or developer can schedule reports."}
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="Scheduled reports">
            <thead><tr><th>Name</th><th>When</th><th>To</th><th>Next run</th><th>Last send</th><th /></tr></thead>
            <tbody>
              {list.map((schedule) => (
                <ScheduleRow key={schedule.id} schedule={schedule} timezone={project.timezone} canManage={canManage}
                  onChanged={reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
