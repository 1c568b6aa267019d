// The few shapes every event-planner dashboard is made of, on top of the Grafana Foundation SDK's
// builders: a panel is a title, what it means, its queries and a unit; a dashboard is rows of
// panels. Everything Grafana needs and people forget (panel ids, refIds, the datasource variable on
// every panel and query, legends, the 5 s refresh, links between the dashboards) is done here once.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/**
 * The provisioned Prometheus datasource's uid (charts/event-planner values `grafana.datasourceUid`).
 * Panels name it through the `datasource` variable, never directly and never as an import-time
 * `${DS_...}` input (provisioned dashboards have no import step to fill one in).
 */
export const datasourceUid = 'prometheus';
const datasource = { type: 'prometheus', uid: '${datasource}' };

/** `rate(<selector>[$__rate_interval])`: Grafana fills in a window of at least four scrapes. */
export const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;

export interface Query {
  expr: string;
  /** Grafana legend template, e.g. `{{stream}} {{group}}`. */
  legend?: string;
}

export interface Panel {
  kind: 'timeseries' | 'stat' | 'bars';
  title: string;
  /** Shown on hover in Grafana; docs/OPERATIONS.md says more and what to do. */
  description: string;
  queries: Query[];
  /** Grafana unit id: `short`, `s`, `bytes`, `reqps`, `percentunit`, `ops`... */
  unit?: string;
  /** Width on the 24-column grid (default: timeseries 12, stat 4, bars 12). */
  w?: number;
  /** Height in grid rows (default: timeseries 8, stat 4, bars 8). */
  h?: number;
  /** Timeseries: stack the series (parts of a whole). */
  stack?: boolean;
  min?: number;
}

export interface Row {
  title: string;
  panels: Panel[];
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  rows: Row[];
}

type PanelOptions = Omit<Panel, 'kind' | 'title' | 'description' | 'queries'>;

export const timeseriesPanel = (title: string, description: string, queries: Query[], options: PanelOptions = {}): Panel => ({
  kind: 'timeseries',
  title,
  description,
  queries,
  ...options,
});
export const statPanel = (title: string, description: string, query: Query, options: PanelOptions = {}): Panel => ({
  kind: 'stat',
  title,
  description,
  queries: [query],
  ...options,
});
export const barsPanel = (title: string, description: string, queries: Query[], options: PanelOptions = {}): Panel => ({
  kind: 'bars',
  title,
  description,
  queries,
  ...options,
});

/** Every dashboard carries this tag; the links bar lists the others by it. */
const tag = 'event-planner';

function target(query: Query, index: number): DataqueryBuilder {
  const builder = new DataqueryBuilder().refId(String.fromCharCode(65 + index)).datasource(datasource).expr(query.expr).range();
  if (query.legend !== undefined) builder.legendFormat(query.legend);
  return builder;
}

function panelBuilder(panel: Panel, id: number): dashboard.Panel {
  const w = panel.w ?? (panel.kind === 'stat' ? 4 : 12);
  const h = panel.h ?? (panel.kind === 'stat' ? 4 : 8);
  const targets = panel.queries.map(target);
  const lastValue = new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
  if (panel.kind === 'stat') {
    const b = new stat.PanelBuilder().reduceOptions(lastValue).graphMode(common.BigValueGraphMode.Area).colorMode(common.BigValueColorMode.None);
    return finish(b, panel, id, w, h, targets);
  }
  if (panel.kind === 'bars') {
    const b = new bargauge.PanelBuilder()
      .reduceOptions(lastValue)
      .displayMode(common.BarGaugeDisplayMode.Gradient)
      .orientation(common.VizOrientation.Horizontal)
      .showUnfilled(true);
    return finish(b, panel, id, w, h, targets);
  }
  const b = new timeseries.PanelBuilder()
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .fillOpacity(panel.stack ? 30 : 10)
    .lineWidth(1)
    .showPoints(common.VisibilityMode.Never);
  if (panel.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return finish(b, panel, id, w, h, targets);
}

type AnyPanelBuilder = stat.PanelBuilder | bargauge.PanelBuilder | timeseries.PanelBuilder;

function finish(b: AnyPanelBuilder, panel: Panel, id: number, w: number, h: number, targets: DataqueryBuilder[]): dashboard.Panel {
  b.id(id).title(panel.title).description(panel.description).datasource(datasource).targets(targets).span(w).height(h).unit(panel.unit ?? 'short');
  if (panel.min !== undefined) b.min(panel.min);
  return b.build();
}

/**
 * The dashboard JSON Grafana provisions: fixed uid, no id, 5 s refresh, last 30 minutes, the
 * `datasource` variable defaulting to the provisioned Prometheus, and rows laid out left to right.
 */
export function buildDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .id(null)
    .uid(spec.uid)
    .description(spec.description)
    .tags([tag])
    .refresh('5s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .readonly()
    .link(new dashboard.DashboardLinkBuilder('Event planner').type(dashboard.DashboardLinkType.Dashboards).tags([tag]).asDropdown(false).keepTime(true).includeVars(true))
    .withVariable(
      new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus').current({ text: 'Prometheus', value: datasourceUid }),
    );
  let id = 0;
  for (const row of spec.rows) {
    if (row.panels.length === 0) continue;
    builder.withRow(new dashboard.RowBuilder(row.title).id((id += 1)));
    for (const panel of row.panels) builder.withPanel({ build: () => panelBuilder(panel, (id += 1)) });
  }
  const built = builder.build();
  // Exported and provisioned dashboards carry an annotation list (Grafana adds its built-in
  // "Annotations & Alerts" query to it); the SDK leaves an empty object.
  built.annotations = { list: [] };
  // The SDK puts links in the dashboard controls menu (a Grafana 12.2 placement); the chart's
  // Grafana shows them in the top bar only without it.
  for (const link of built.links ?? []) delete link.placement;
  return built;
}
