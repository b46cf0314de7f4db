// 政策计算器: the form builds a profile, the service evaluates it (POST /v1/check), and this
// script shows the report. Every text the engine writes comes in Chinese and English, so
// switching the language re-renders without asking the service again. No libraries.
"use strict";

const T = {
  zh: {
    title: "政策计算器", lead: "填写企业信息，查看可享受的政策、金额及依据。",
    basics: "企业基本信息", name: "企业名称", credit_code: "统一社会信用代码", zone: "所在地区/园区",
    industry_code: "行业代码（GB/T 4754）", registration_date: "注册日期", employees: "职工总数（人）",
    workforce: "从业人数（含劳务派遣，人）",
    tech_staff: "科技人员（人）", resident_enterprise: "居民企业", audit_collection: "查账征收",
    restricted_industry: "属限制或禁止类行业", unknown: "未知", yes: "是", no: "否",
    financials: "近三年财务数据（元，可写“1200万元”）", line: "项目", year: "年度",
    revenue: "销售收入", total_income: "收入总额", rd_expense: "研发费用总额",
    rd_expensed: "费用化研发费用", rd_amortisation: "研发无形资产本年摊销额",
    rd_expense_domestic: "境内研发费用", high_tech_revenue: "高新技术产品（服务）收入",
    taxable_income: "应纳税所得额", total_assets: "资产总额",
    certificates: "资质证书（发证日期）", all_certificates: "以上为企业全部资质（未填即没有）",
    hnte: "高新技术企业", tech_sme: "科技型中小企业", innovative_sme: "创新型中小企业",
    specialised_sme: "专精特新中小企业", little_giant: "专精特新“小巨人”", provincial_rd_centre: "省部级研发机构",
    ip: "自主知识产权", all_ip: "以上为企业全部知识产权（未填即没有）", count: "数量",
    main_product: "对主要产品发挥核心支持作用",
    invention_patent: "发明专利", utility_model: "实用新型专利", design_patent: "外观设计专利",
    software_copyright: "软件著作权",
    compliance: "信用与合规", tax_credit_rating: "纳税信用级别",
    no_records: "近年无安全、质量、环境事故或税务违法记录",
    more: "其他信息（YAML 或 JSON）",
    more_hint: "表单之外的字段（如园区自定义事项 facts、项目、合规记录）可粘贴在此，或上传完整的企业画像文件；表单中填写的内容优先。",
    rest: "画像（YAML/JSON）", upload: "上传画像文件", load: "读入表单", as_of: "评估日期", submit: "评估",
    results: "评估结果", explanations: "逐项说明", status: "结论", policy: "政策", amount: "金额", source: "依据",
    total: "合计（现金+税收减免）", deductions: "另有加计扣除额", of_which_illustrative: "其中依据示例性数值",
    show_hidden: "显示此日期或此地区不适用的 {n} 项政策", hide_hidden: "隐藏不适用的政策",
    illustrative: "示例性（非法定数值）", verified: "已核实", synthetic: "示例企业（虚构）",
    non_cash: "非现金", amount_unknown: "金额待定", tax_saved: "减税", deduction: "加计扣除",
    reason: "说明", calculation: "计算", stacking: "叠加", missing: "缺少信息", missing_inputs: "需补充的字段",
    review: "需专家判断", to_pass: "如何达到", requires: "申报材料", trace: "逐条条件", needs: "要求",
    excluded: "排除情形", all_of: "全部满足", any_of: "满足其一", not: "不得", effective: "有效期",
    superseded: "已由 {id} 取代", document: "文件", version: "政策集版本", evaluated_on: "评估日",
    footer: "结果依据已载入的政策文件自动计算，仅供参考；标注“示例性”的数值并非法定标准。",
    fix_fields: "有 {n} 处填写有误，请按提示修改。", failed: "请求失败：", loading: "正在评估…",
    none_eligible: "没有符合条件的政策。",
    s_eligible: "符合", s_ineligible: "不符合", s_undetermined: "信息不足", s_needs_review: "需专家评审",
    s_not_in_force: "不适用",
  },
  en: {
    title: "Policy calculator", lead: "Describe the enterprise and see which policies it qualifies for, how much, and why.",
    basics: "The enterprise", name: "Name", credit_code: "Unified social credit code", zone: "Zone",
    industry_code: "Industry code (GB/T 4754)", registration_date: "Registered on", employees: "Employees",
    workforce: "Workforce (dispatched workers included)",
    tech_staff: "Technical staff", resident_enterprise: "Resident enterprise", audit_collection: "Tax assessed on accounts",
    restricted_industry: "Restricted or prohibited industry", unknown: "unknown", yes: "yes", no: "no",
    financials: "Financials, last three years (yuan; '1200万元' works)", line: "Line", year: "Year",
    revenue: "Sales revenue", total_income: "Total income", rd_expense: "R&D expense",
    rd_expensed: "R&D expensed", rd_amortisation: "Amortisation of capitalised R&D",
    rd_expense_domestic: "R&D expense in China", high_tech_revenue: "High-tech product revenue",
    taxable_income: "Taxable income", total_assets: "Total assets",
    certificates: "Certificates (date issued)", all_certificates: "These are all the certificates (blank means none)",
    hnte: "High and new tech enterprise", tech_sme: "Technology-based SME", innovative_sme: "Innovative SME",
    specialised_sme: "Specialised SME", little_giant: "'Little giant'", provincial_rd_centre: "Provincial R&D centre",
    ip: "Own intellectual property", all_ip: "This is all the IP (blank means none)", count: "Count",
    main_product: "core to the main products",
    invention_patent: "Invention patents", utility_model: "Utility models", design_patent: "Design patents",
    software_copyright: "Software copyrights",
    compliance: "Credit and compliance", tax_credit_rating: "Tax credit rating",
    no_records: "No accidents or violations in recent years",
    more: "Other fields (YAML or JSON)",
    more_hint: "Fields the form does not show (zone-specific facts, projects, compliance records) go here, or upload a whole profile file; what the form says comes first.",
    rest: "Profile (YAML/JSON)", upload: "Upload a profile", load: "Load into the form", as_of: "Evaluation date", submit: "Evaluate",
    results: "Results", explanations: "Policy by policy", status: "Status", policy: "Policy", amount: "Amount", source: "Source",
    total: "Total (cash + tax savings)", deductions: "plus additional deductions of", of_which_illustrative: "of which on illustrative figures",
    show_hidden: "Show the {n} policies not in force on this date or in this zone", hide_hidden: "Hide the policies not in force",
    illustrative: "illustrative (not law)", verified: "verified", synthetic: "synthetic example profile",
    non_cash: "non-cash", amount_unknown: "amount unknown", tax_saved: "tax saved", deduction: "deduction",
    reason: "Why", calculation: "Calculation", stacking: "Stacking", missing: "Missing", missing_inputs: "Fields to supply",
    review: "Needs expert judgement", to_pass: "What it would take", requires: "Documents to provide", trace: "Criteria", needs: "needs",
    excluded: "exclusion", all_of: "all of", any_of: "any of", not: "not", effective: "In force",
    superseded: "superseded by {id}", document: "Document", version: "policy set", evaluated_on: "as of",
    footer: "Computed from the loaded policy documents, for guidance only; figures marked 'illustrative' are not law.",
    fix_fields: "{n} field(s) need correcting; see the messages beside them.", failed: "The request failed: ", loading: "Evaluating…",
    none_eligible: "No policy applies.",
    s_eligible: "eligible", s_ineligible: "ineligible", s_undetermined: "undetermined", s_needs_review: "needs review",
    s_not_in_force: "not in force",
  },
};

const LINES = ["revenue", "total_income", "rd_expense", "rd_expensed", "rd_amortisation", "rd_expense_domestic", "high_tech_revenue",
  "taxable_income", "total_assets"];
const CERTS = ["hnte", "tech_sme", "innovative_sme", "specialised_sme", "little_giant", "provincial_rd_centre"];
const IPS = ["invention_patent", "utility_model", "design_patent", "software_copyright"];
const ORDER = { eligible: 0, needs_review: 1, undetermined: 2, ineligible: 3, not_in_force: 4 };
const MARK = { true: "✔", false: "✘", unknown: "?", review: "⚑" };

const state = { lang: "zh", facts: {}, zones: [], report: null, version: "", showHidden: false };
const $ = (id) => document.getElementById(id);
const t = (key, vars) => (T[state.lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => (vars || {})[k]);
const text = (value) => (value ? value[state.lang] || value.zh : "");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// --- money, exactly: amounts arrive as decimal strings in yuan ---------------------------------

function roundedHalfEven(numerator, denominator) {
  const quotient = numerator / denominator, remainder = numerator % denominator;
  const twice = 2n * (remainder < 0n ? -remainder : remainder);
  if (twice > denominator || (twice === denominator && quotient % 2n !== 0n)) {
    return quotient + (numerator < 0n ? -1n : 1n);
  }
  return quotient;
}

function exact(amount) {
  // "520000.125" → [520000125n, 1000n]: the amount is units / scale, exactly
  const negative = amount.startsWith("-");
  const [whole, fraction = ""] = amount.replace(/^[-+]/, "").split(".");
  const units = BigInt(whole + fraction);
  return [negative ? -units : units, 10n ** BigInt(fraction.length)];
}

function trimmed(units, digits) {
  // units of 10^-digits → "12.5", no trailing zeros
  const negative = units < 0n;
  const text = (negative ? -units : units).toString().padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits);
  const fraction = text.slice(text.length - digits).replace(/0+$/, "");
  return (negative ? "-" : "") + whole + (fraction ? "." + fraction : "");
}

// As the command line writes amounts: 52万元 / 1.2亿元 / 800元 (up to 4 decimals), ¥520,000.
function money(amount) {
  if (amount === null || amount === undefined) return "—";
  const [units, scale] = exact(String(amount));
  const size = units < 0n ? -units : units;
  if (state.lang === "zh") {
    if (size >= 10n ** 8n * scale) return trimmed(roundedHalfEven(units, scale * 10n ** 4n), 4) + "亿元";
    if (size >= 10n ** 4n * scale) return trimmed(roundedHalfEven(units, scale), 4) + "万元";
    return trimmed(roundedHalfEven(units * 10n ** 4n, scale), 4) + "元";
  }
  const cents = roundedHalfEven(units * 100n, scale);
  const digits = (cents < 0n ? -cents : cents).toString().padStart(3, "0");
  const whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits.slice(-2);
  return "¥" + (cents < 0n ? "-" : "") + whole + (fraction === "00" ? "" : "." + fraction);
}

// --- the form ----------------------------------------------------------------------------------

function evaluationYear() {
  const value = $("f-as_of").value;
  return value ? Number(value.slice(0, 4)) : new Date().getFullYear();
}

function buildFinancials() {
  // three columns: the last fiscal year before the evaluation date, and the two before it
  const table = $("financials");
  const kept = [...table.querySelectorAll("tbody input")].map((input) => input.value);
  const last = evaluationYear() - 1;
  const years = [last, last - 1, last - 2];
  const head = table.querySelector("thead tr");
  head.replaceChildren(el("th", { scope: "col", "data-i18n": "line" }, t("line")),
    ...years.map((year, column) => el("th", { scope: "col", id: `y-${column}` }, String(year))));
  const body = table.querySelector("tbody");
  body.replaceChildren(...LINES.map((line) => el("tr", {},
    el("th", { scope: "row", id: `l-${line}`, "data-i18n": line }, t(line)),
    ...years.map((year, column) => el("td", {},
      el("input", { id: `f-financials-${column}-${line}`, "data-path": `financials.${year}.${line}`,
        inputmode: "decimal", "aria-labelledby": `l-${line} y-${column}` }))))));
  [...body.querySelectorAll("input")].forEach((input, i) => { input.value = kept[i] || ""; });
}

function buildCertificates() {
  $("certificates").replaceChildren(...CERTS.map((kind) => el("div", { class: "field" },
    el("label", { for: `f-cert-${kind}`, "data-i18n": kind }, t(kind)),
    el("input", { id: `f-cert-${kind}`, type: "date", "data-cert": kind }))));
  $("ip").replaceChildren(...IPS.map((kind) => el("div", { class: "field" },
    el("label", { for: `f-ip-${kind}`, "data-i18n": kind }, t(kind)),
    el("input", { id: `f-ip-${kind}`, inputmode: "numeric", "data-ip": kind }),
    el("label", { class: "check small" },
      el("input", { type: "checkbox", id: `f-ip-${kind}-main`, "data-ip-main": kind }),
      el("span", { "data-i18n": "main_product" }, t("main_product"))))));
}

function fillChoices() {
  for (const select of document.querySelectorAll('select[data-kind="bool"]')) {
    const value = select.value;
    select.replaceChildren(el("option", { value: "", "data-i18n": "unknown" }, t("unknown")),
      el("option", { value: "true", "data-i18n": "yes" }, t("yes")),
      el("option", { value: "false", "data-i18n": "no" }, t("no")));
    select.value = value;
  }
  const zone = $("f-zone"), chosen = zone.value;
  zone.replaceChildren(el("option", { value: "", "data-i18n": "unknown" }, t("unknown")),
    ...state.zones.map((z) => el("option", { value: z.id }, state.lang === "zh" ? z.zh : z.en)));
  zone.value = chosen;
}

function setPath(target, path, value) {
  const steps = path.split(".");
  let node = target;
  for (const step of steps.slice(0, -1)) node = node[step] = node[step] || {};
  node[steps[steps.length - 1]] = value;
}

// The profile the form states, and which input each of its paths came from.
function formProfile() {
  const profile = {}, inputs = {};
  for (const input of document.querySelectorAll("#profile-form [data-path]")) {
    const raw = input.value.trim();
    if (!raw) continue;
    const value = input.dataset.kind === "bool" ? raw === "true" : raw;
    setPath(profile, input.dataset.path, value);
    inputs[input.dataset.path] = input;
  }
  const certificates = [];
  for (const input of document.querySelectorAll("[data-cert]")) {
    if (!input.value) continue;
    inputs[`certifications.${certificates.length}.issued`] = input;
    inputs[`certifications.${certificates.length}`] = input;
    certificates.push({ kind: input.dataset.cert, issued: input.value });
  }
  if (certificates.length || $("f-all-certificates").checked) profile.certifications = certificates;
  const ip = [];
  for (const input of document.querySelectorAll("[data-ip]")) {
    if (!input.value.trim()) continue;
    const entry = { kind: input.dataset.ip, count: input.value.trim() };
    if ($(`f-ip-${input.dataset.ip}-main`).checked) entry.main_product = true;
    inputs[`intellectual_property.${ip.length}.count`] = input;
    inputs[`intellectual_property.${ip.length}`] = input;
    ip.push(entry);
  }
  if (ip.length || $("f-all-ip").checked) profile.intellectual_property = ip;
  if ($("f-no-records").checked) setPath(profile, "compliance.records", []);
  return { profile, inputs };
}

// The form's profile over the rest: mappings merge, the form's values win, and the lists of
// certificates and IP are joined (the form holds some kinds, the rest the others).
function merged(rest, form) {
  const out = { ...rest };
  for (const [key, value] of Object.entries(form)) {
    const before = out[key];
    if (Array.isArray(value) && Array.isArray(before)) out[key] = [...value, ...before];
    else if (value && typeof value === "object" && !Array.isArray(value) && before && typeof before === "object" && !Array.isArray(before)) {
      out[key] = merged(before, value);
    } else out[key] = value;
  }
  return out;
}

// --- talking to the service --------------------------------------------------------------------

async function call(path, body, type) {
  const response = await fetch(path, {
    method: "POST", body,
    headers: { "Content-Type": type, Accept: "application/json", "Accept-Language": state.lang },
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, status: response.status, data, version: response.headers.get("Policy-Set-Version") };
}

function restType(textValue) {
  try { JSON.parse(textValue); return "application/json"; } catch (_) { return "application/yaml"; }
}

// The pasted or uploaded profile, normalised by the service; null (with its errors shown) if bad.
async function restProfile() {
  const value = $("f-rest").value;
  if (!value.trim()) return {};
  const answer = await call("/v1/profile", value, restType(value));
  if (answer.ok) return answer.data;
  showRestProblem(answer);
  return null;
}

// --- errors beside the fields ------------------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error.generated")) node.remove();
  for (const node of document.querySelectorAll('[aria-invalid="true"]')) {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  }
  $("f-rest-error").hidden = true;
  $("form-error").hidden = true;
}

function markInvalid(input, message) {
  const id = `${input.id}-error`;
  let note = document.getElementById(id);
  if (!note) {
    note = el("div", { id, class: "field-error generated", role: "alert" });
    input.insertAdjacentElement("afterend", note);
  }
  note.textContent = note.textContent ? `${note.textContent}\n${message}` : message;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", id);
}

function showRestProblem(answer) {
  const problem = answer.data || {};
  const lines = (problem.errors || []).map((e) => `${e.line ? `line ${e.line}: ` : ""}${e.path}: ${e.message}`);
  const box = $("f-rest-error");
  box.textContent = [problem.title, problem.detail, ...lines].filter(Boolean).join("\n");
  box.hidden = false;
  $("f-rest").setAttribute("aria-invalid", "true");
  $("f-rest").setAttribute("aria-describedby", "f-rest-error");
}

function showProblem(answer, inputs) {
  const problem = answer.data || {};
  const errors = problem.errors || [];
  const elsewhere = [];
  for (const error of errors) {
    const input = inputs[error.path] || inputs[error.path.split(".").slice(0, 2).join(".")];
    if (input) markInvalid(input, error.message);
    else elsewhere.push(`${error.path || "profile"}: ${error.message}`);
  }
  if (elsewhere.length) {
    const box = $("f-rest-error");
    box.textContent = elsewhere.join("\n");
    box.hidden = false;
  }
  const box = $("form-error");
  box.textContent = errors.length ? t("fix_fields", { n: errors.length }) : `${t("failed")}${problem.title || answer.status} ${problem.detail || ""}`;
  box.hidden = false;
  const first = document.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

// --- the report --------------------------------------------------------------------------------

function amountText(result) {
  if (result.status !== "eligible") return "";
  if (result.amount_kind === "none") return t("non_cash");
  if (result.amount === null) return t("amount_unknown");
  const suffix = { tax_saving: ` ${t("tax_saved")}`, deduction: ` ${t("deduction")}` }[result.amount_kind] || "";
  return money(result.amount) + suffix;
}

function provenanceMark(provenance) {
  return provenance === "illustrative"
    ? el("span", { class: "illustrative" }, `[${t("illustrative")}]`)
    : el("span", { class: "small" }, `[${t("verified")}]`);
}

function sourceCell(result) {
  const src = result.source;
  return [[src.number || src.document, src.article].filter(Boolean).join(" "), " ", provenanceMark(src.provenance)];
}

function factLabel(id) {
  const fact = state.facts[id];
  return fact ? (state.lang === "zh" ? fact.zh : fact.en) : id;
}

function traceNode(node, depth) {
  const label = node.label ? text(node.label) : null;
  const head = [el("span", { class: `mark m-${node.outcome}`, "aria-hidden": "true" }, MARK[node.outcome])];
  if (node.exclusion) head.push(`[${t("excluded")}] `);
  const article = node.article ? ` 〔${node.article}〕` : "";
  const flag = node.provenance === "illustrative" ? el("span", { class: "illustrative" }, ` (${t("illustrative")})`) : null;
  if (node.kind === "leaf") {
    const detail = `${node.fact} = ${text(node.value_text)}; ${t("needs")} ${text(node.threshold)}${node.origin ? ` ← ${node.origin}` : ""}`;
    return el("li", { "data-outcome": node.outcome }, head, label || text(node.fact_label), article, flag,
      el("span", { class: "detail" }, detail));
  }
  const joiner = { all: t("all_of"), any: t("any_of"), not: t("not") }[node.kind];
  const children = el("ul", {}, node.children.map((child) => traceNode(child, depth + 1)));
  if (depth === 0 && node.kind === "all" && !label) return node.children.map((child) => traceNode(child, depth));
  return el("li", { "data-outcome": node.outcome }, head, label || joiner, article, flag, children);
}

function section(title, ...content) {
  return [el("h3", {}, title), ...content];
}

function explanation(result) {
  const parts = [];
  if (result.reason) parts.push(el("p", {}, text(result.reason)));
  if (result.source.superseded_by && result.status === "not_in_force") {
    parts.push(el("p", {}, t("superseded", { id: result.source.superseded_by })));
  }
  if (result.calculation.length) {
    parts.push(...section(t("calculation"), el("ul", {}, result.calculation.map((step) =>
      el("li", {}, text(step.label), step.amount !== null ? ` = ${money(step.amount)}` : "")))));
  }
  if (result.stacking) parts.push(...section(t("stacking"), el("p", {}, text(result.stacking))));
  if (result.missing.length) {
    parts.push(...section(t("missing"), el("ul", { class: "missing" }, result.missing.map((id) => el("li", { "data-fact": id }, factLabel(id)))),
      result.missing_inputs.length ? el("p", { class: "small" }, `${t("missing_inputs")}: ${result.missing_inputs.join(", ")}`) : null));
  }
  if (result.review.length) {
    parts.push(...section(t("review"), el("ul", {}, result.review.map((id) => el("li", { "data-fact": id }, factLabel(id))))));
  }
  if (result.gaps.length) {
    parts.push(...section(t("to_pass"), el("ul", { class: "gaps" }, result.gaps.map((gap) => el("li", {},
      text(gap.label), gap.article ? ` 〔${gap.article}〕` : "", ": ",
      gap.value ? `${text(gap.value)}, ` : "", `${t("needs")} ${text(gap.required)}`,
      gap.change ? ` → ${text(gap.change)}` : "")))));
  }
  if (result.requires.length) {
    parts.push(...section(t("requires"), el("ul", {}, result.requires.map((r) => el("li", {}, text(r))))));
  }
  if (result.trace) {
    parts.push(...section(t("trace"), el("ul", { class: "trace" }, traceNode(result.trace, 0))));
  }
  const src = result.source;
  const period = [result.effective_from || "…", result.effective_until || "…"].join(" – ");
  parts.push(el("p", { class: "small" }, `${t("document")}: ${src.document}${src.number ? `（${src.number}）` : ""} ${src.article || ""} `,
    provenanceMark(src.provenance), ` · ${t("effective")}: ${period}`,
    src.note ? el("span", { class: "detail" }, src.note) : null));
  return parts;
}

function render() {
  const report = state.report;
  if (!report) return;
  const ordered = [...report.results].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  const hidden = ordered.filter((r) => r.status === "not_in_force").length;
  const shown = ordered.filter((r) => state.showHidden || r.status !== "not_in_force");
  const who = [report.profile.name, report.profile.credit_code, report.profile.zone].filter(Boolean).join(" ");
  $("result-meta").textContent = `${who}${report.profile.synthetic ? `（${t("synthetic")}）` : ""} — ${t("evaluated_on")} ${report.as_of} · ${t("version")} ${state.version}`;
  const total = [el("span", { id: "total-amount" }, `${t("total")}: ${money(report.total)}`)];
  if (Number(report.totals.illustrative)) total.push(el("span", { class: "sub" }, `${t("of_which_illustrative")}: ${money(report.totals.illustrative)}`));
  if (Number(report.totals.deduction)) total.push(el("span", { class: "sub" }, `${t("deductions")} ${money(report.totals.deduction)}`));
  $("total").replaceChildren(...total);
  const rows = shown.map((r) => el("tr", { "data-policy-id": r.policy_id, "data-status": r.status },
    el("td", { "data-label": t("status") }, el("span", { class: `status s-${r.status}` }, t(`s_${r.status}`))),
    el("td", { "data-label": t("policy") }, el("a", { href: `#x-${r.policy_id}` }, text(r.title)), el("div", { class: "policy-id" }, r.policy_id)),
    el("td", { "data-label": t("amount"), class: "amount" }, amountText(r)),
    el("td", { "data-label": t("source") }, sourceCell(r))));
  $("verdicts").querySelector("tbody").replaceChildren(...rows);
  const toggle = $("toggle-hidden");
  toggle.hidden = hidden === 0;
  toggle.textContent = state.showHidden ? t("hide_hidden") : t("show_hidden", { n: hidden });
  const open = new Set([...document.querySelectorAll("#explanations details[open]")].map((d) => d.dataset.policyId));
  $("explanations").replaceChildren(...shown.map((r) => el("details", { id: `x-${r.policy_id}`, "data-policy-id": r.policy_id, open: open.has(r.policy_id) },
    el("summary", {}, el("span", { class: `status s-${r.status}` }, t(`s_${r.status}`)), el("strong", {}, text(r.title)),
      el("span", { class: "small" }, amountText(r))),
    el("div", {}, explanation(r)))));
  $("results").hidden = false;
}

// --- the page's life ---------------------------------------------------------------------------

function translate() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const button of document.querySelectorAll("[data-lang]")) button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  fillChoices();
  render();
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const { profile, inputs } = formProfile();
  const rest = await restProfile();
  if (rest === null) return;
  const body = JSON.stringify(merged(rest, profile));
  const asOf = $("f-as_of").value;
  const query = new URLSearchParams({ explain: "true", gaps: "true", lang: state.lang });
  if (asOf) query.set("as_of", asOf);
  $("results").setAttribute("aria-busy", "true");
  $("submit").disabled = true;
  try {
    const answer = await call(`/v1/check?${query}`, body, "application/json");
    if (!answer.ok) { showProblem(answer, inputs); return; }
    state.report = answer.data;
    state.version = answer.version || "";
    render();
    $("results").scrollIntoView({ block: "start" });
  } catch (error) {
    $("form-error").textContent = `${t("failed")}${error}`;
    $("form-error").hidden = false;
  } finally {
    $("results").setAttribute("aria-busy", "false");
    $("submit").disabled = false;
  }
}

// Fields of a loaded profile that the form shows move into the form; the rest stays as JSON.
function loadIntoForm(profile) {
  const rest = JSON.parse(JSON.stringify(profile));
  for (const input of document.querySelectorAll("#profile-form [data-path], [data-cert], [data-ip]")) input.value = "";
  for (const box of document.querySelectorAll("#profile-form input[type=checkbox]")) box.checked = false;
  for (const input of document.querySelectorAll("#profile-form [data-path]")) {
    const steps = input.dataset.path.split(".");
    if (steps[0] === "financials") continue;
    let node = rest;
    for (const step of steps.slice(0, -1)) node = node && node[step];
    const key = steps[steps.length - 1];
    if (node && node[key] !== undefined && node[key] !== null && typeof node[key] !== "object") {
      input.value = String(node[key]);
      delete node[key];
    }
  }
  buildFinancials();
  for (const input of document.querySelectorAll("[data-path^='financials.']")) {
    const [, year, line] = input.dataset.path.split(".");
    const lines = (rest.financials || {})[year];
    if (lines && lines[line] !== undefined) { input.value = String(lines[line]); delete lines[line]; }
    if (lines && !Object.keys(lines).length) delete rest.financials[year];
  }
  if (rest.financials && !Object.keys(rest.financials).length) delete rest.financials;
  if (rest.compliance) {
    if (Array.isArray(rest.compliance.records) && !rest.compliance.records.length) {
      $("f-no-records").checked = true;
      delete rest.compliance.records;
    }
    if (!Object.keys(rest.compliance).length) delete rest.compliance;
  }
  moveList(rest, "certifications", (c) => CERTS.includes(c.kind) && Object.keys(c).every((k) => k === "kind" || k === "issued"),
    (c) => { $(`f-cert-${c.kind}`).value = c.issued; }, "f-all-certificates");
  moveList(rest, "intellectual_property",
    (p) => IPS.includes(p.kind) && (p.acquisition || "self_developed") === "self_developed" && Object.keys(p).every((k) => ["kind", "count", "acquisition", "main_product"].includes(k)),
    (p) => { $(`f-ip-${p.kind}`).value = String(p.count); $(`f-ip-${p.kind}-main`).checked = p.main_product === true; }, "f-all-ip");
  if (rest.facts && !Object.keys(rest.facts).length) delete rest.facts;
  if (rest.synthetic === false) delete rest.synthetic;
  $("f-rest").value = Object.keys(rest).length ? JSON.stringify(rest, null, 2) : "";
}

function moveList(rest, key, fits, put, allBox) {
  const list = rest[key];
  if (!Array.isArray(list)) return;
  const seen = new Set(), kept = [];
  for (const item of list) {
    if (fits(item) && !seen.has(item.kind)) { seen.add(item.kind); put(item); } else kept.push(item);
  }
  $(allBox).checked = true; // a list that is given states all of them
  if (kept.length) rest[key] = kept; else delete rest[key];
}

async function loadClicked() {
  clearErrors();
  const profile = await restProfile();
  if (profile) loadIntoForm(profile);
}

async function start() {
  const today = new Date();
  $("f-as_of").value = today.toISOString().slice(0, 10);
  buildFinancials();
  buildCertificates();
  $("f-as_of").addEventListener("change", buildFinancials);
  $("profile-form").addEventListener("submit", submit);
  $("load-into-form").addEventListener("click", loadClicked);
  $("f-upload").addEventListener("change", async () => {
    const file = $("f-upload").files[0];
    if (!file) return;
    $("f-rest").value = await file.text();
    await loadClicked();
  });
  $("toggle-hidden").addEventListener("click", () => { state.showHidden = !state.showHidden; render(); });
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => { state.lang = button.dataset.lang; translate(); });
  }
  const [facts, zones] = await Promise.all([fetch("/v1/facts"), fetch("/v1/zones")]);
  state.version = facts.headers.get("Policy-Set-Version") || "";
  for (const fact of await facts.json()) state.facts[fact.id] = fact;
  state.zones = (await zones.json()).filter((z) => z.id !== "national");
  $("version").textContent = `${t("version")} ${state.version}`;
  translate();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
