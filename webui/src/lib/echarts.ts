/**
 * The parts of ECharts the UI uses, registered once; import `echarts` from here, never from
 * "echarts" itself, so the bundle holds only these. A screen needing another chart type (funnel,
 * heatmap, sankey) registers it here.
 */
import { BarChart, LineChart, ScatterChart } from "echarts/charts";
import { DatasetComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([LineChart, BarChart, ScatterChart, GridComponent, TooltipComponent, LegendComponent, DatasetComponent, CanvasRenderer]);

export { echarts };
export type { EChartsCoreOption as ChartOption } from "echarts/core";
