import Mustache

/// The dashboard's HTML as Mustache templates, compiled once at start. Kept as Swift string
/// literals rather than package resources so the server is one binary with nothing to
/// install beside it. `{{x}}` is HTML-escaped; `{{{x}}}` is used only for HTML the server
/// built itself (a rendered page inside the layout, SVG charts).
struct DashboardTemplates: Sendable {
    let library: MustacheLibrary

    init() {
        var templates: [String: MustacheTemplate] = [:]
        for (name, text) in Self.sources {
            // The templates are constants of this file; one that does not parse is a bug found by every test.
            templates[name] = try! MustacheTemplate(string: text)
        }
        library = MustacheLibrary(templates: templates)
    }

    func render(_ name: String, _ object: Any) -> String {
        library.render(object, withTemplate: name) ?? "template \(name) is missing"
    }

    static let sources: [String: String] = [
        "layout": layout, "sign-in": signIn, "overview": overview, "overview-table": overviewTable, "device": device,
        "error": errorPage, "notifications": notifications, "workers": workers,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · reef fleet</title>
        <link rel="stylesheet" href="/dashboard/assets/app.css">
        <link rel="icon" href="data:,">
        <script src="/dashboard/assets/app.js" defer></script>
        </head>
        <body>
        <header>
        <a class="brand" href="/dashboard">reef fleet</a>
        {{#signedIn}}
        <nav>
        <a href="/dashboard"{{#onOverview}} aria-current="page"{{/onOverview}}>Devices</a>
        <a href="/dashboard/notifications"{{#onNotifications}} aria-current="page"{{/onNotifications}}>Notifications</a>
        <a href="/dashboard/workers"{{#onWorkers}} aria-current="page"{{/onWorkers}}>Workers</a>
        </nav>
        <form class="sign-out" method="post" action="/dashboard/sign-out">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <span class="who">{{operatorName}}</span> <button type="submit">Sign out</button>
        </form>
        {{/signedIn}}
        </header>
        <main>
        {{{body}}}
        </main>
        </body>
        </html>
        """

    static let signIn = """
        <section class="sign-in">
        <h1>Sign in</h1>
        {{#message}}<p class="problem" role="alert">{{message}}</p>{{/message}}
        <form method="post" action="/dashboard/sign-in">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="token">Admin or operator token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
        <button type="submit">Sign in</button>
        </form>
        <p class="note">A device token cannot sign in. Failed sign-ins are logged with your address and limited.</p>
        </section>
        """

    static let overview = """
        <h1>Devices</h1>
        <div id="overview" data-refresh="/dashboard/fragments/overview" data-every="30">
        {{> overview-table}}
        </div>
        """

    static let overviewTable = """
        <ul class="counts">
        <li class="online"><span class="n" data-count="online">{{counts.online}}</span> online</li>
        <li class="degraded"><span class="n" data-count="degraded">{{counts.degraded}}</span> degraded</li>
        <li class="offline"><span class="n" data-count="offline">{{counts.offline}}</span> offline</li>
        <li class="never_seen"><span class="n" data-count="never_seen">{{counts.neverSeen}}</span> never seen</li>
        </ul>
        <div class="filters">
        <label>Filter <input type="search" id="filter" placeholder="name, version, reason"></label>
        <label>State <select id="state-filter">
        <option value="">all</option><option value="online">online</option><option value="degraded">degraded</option>
        <option value="offline">offline</option><option value="never_seen">never seen</option>
        </select></label>
        <span class="asof">as of {{asOf}}</span>
        </div>
        <div class="scroll">
        <table class="devices sortable">
        <thead><tr>
        <th data-key="name" data-type="text">Device</th>
        <th data-key="seen" data-type="number">Last seen</th>
        <th data-key="version" data-type="text">Agent</th>
        <th data-key="state" data-type="text">Health</th>
        <th data-key="alerts" data-type="number">Firing</th>
        <th data-key="backlog" data-type="number">Oldest unsent</th>
        <th data-key="disk" data-type="number">Disk</th>
        <th data-key="drops" data-type="number">Drops</th>
        </tr></thead>
        <tbody>
        {{#devices}}
        <tr data-name="{{name}}" data-seen="{{seenSort}}" data-version="{{version}}" data-state="{{state}}" data-alerts="{{alerts}}"
            data-backlog="{{backlogSort}}" data-disk="{{diskSort}}" data-drops="{{drops}}">
        <td><a href="{{href}}">{{name}}</a></td>
        <td>{{lastSeen}}</td>
        <td>{{version}}</td>
        <td><span class="badge {{state}}">{{stateLabel}}</span>{{#reasons}}<div class="reason">{{.}}</div>{{/reasons}}</td>
        <td class="num">{{alerts}}</td>
        <td class="num">{{backlog}}</td>
        <td class="num">{{disk}}</td>
        <td class="num">{{drops}}</td>
        </tr>
        {{/devices}}
        {{^devices}}<tr><td colspan="8">No devices are registered; add one with <code>fleet-server devices add NAME</code>.</td></tr>{{/devices}}
        </tbody>
        </table>
        </div>
        """

    static let device = """
        <p class="crumbs"><a href="/dashboard">Devices</a> › {{name}}</p>
        <h1>{{name}} <span class="badge {{state}}">{{stateLabel}}</span></h1>
        <p class="facts">Last seen {{lastSeen}} · agent {{version}} · {{firing}} firing · disk {{disk}} · oldest unsent {{backlog}}</p>
        {{#reasons}}<p class="reason">{{.}}</p>{{/reasons}}
        <nav class="ranges">
        {{#ranges}}<a href="?range={{key}}"{{#current}} aria-current="page"{{/current}}>{{key}}</a>{{/ranges}}
        <a class="csv" href="/dashboard/devices/{{name}}/export.csv?range={{range}}" download>CSV</a>
        </nav>
        <p class="note">Each chart shows {{bucketCount}} buckets of {{bucketText}} from {{from}} to {{to}} UTC: the band spans the
        minimum and maximum of each bucket, the line joins the means, and a bucket without readings leaves a gap. Dashed lines are
        thresholds as each rule's most recent event reported them (the device does not send its rules, so a rule that never
        fired has no line).</p>
        {{#charts}}
        <section class="sensor">
        <h2>{{sensor}} <small>{{unit}}</small></h2>
        {{{svg}}}
        </section>
        {{/charts}}
        {{^charts}}<p>No readings in this range.</p>{{/charts}}
        <h2>Events</h2>
        <div class="scroll">
        <table class="events"><thead><tr><th>Time (UTC)</th><th>Event</th><th>Rule</th><th>Sensor</th><th>Severity</th><th>Value</th><th>Message</th></tr></thead>
        <tbody>
        {{#events}}<tr class="{{kind}}"><td>{{time}}</td><td>{{kind}}</td><td>{{rule}}</td><td>{{sensor}}</td><td>{{severity}}</td><td class="num">{{value}}</td><td>{{message}}</td></tr>{{/events}}
        {{^events}}<tr><td colspan="7">No events in this range.</td></tr>{{/events}}
        </tbody></table>
        </div>
        <h2>Health history</h2>
        <div class="scroll">
        <table class="health"><thead><tr><th>Taken (UTC)</th><th>Status</th><th>Reasons</th></tr></thead>
        <tbody>
        {{#health}}<tr><td>{{time}}</td><td><span class="badge {{status}}">{{status}}</span></td><td>{{reasons}}</td></tr>{{/health}}
        {{^health}}<tr><td colspan="3">No health reports in this range.</td></tr>{{/health}}
        </tbody></table>
        </div>
        """

    static let errorPage = """
        <h1>{{heading}}</h1>
        <p class="problem">{{message}}</p>
        <p><a href="/dashboard">Back to the devices</a></p>
        """

    static let notifications = """
        <h1>Notifications</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        <nav class="ranges states">
        {{#states}}<a href="/dashboard/notifications?state={{name}}"{{#current}} aria-current="page"{{/current}} data-state-count="{{name}}">{{name}} ({{count}})</a>{{/states}}
        </nav>
        <p class="note">Oldest due job waiting: {{oldestDue}}. Newest 200 jobs shown.</p>
        <div class="scroll">
        <table class="jobs"><thead><tr><th>Job</th><th>Kind</th><th>Receiver</th><th>State</th><th>Attempts</th><th>Last error</th><th>Created (UTC)</th><th></th></tr></thead>
        <tbody>
        {{#jobs}}
        <tr data-job="{{id}}" data-state="{{state}}">
        <td class="num">{{id}}</td><td>{{kind}}</td><td>{{receiver}}</td><td><span class="badge {{state}}">{{state}}</span></td>
        <td>{{attempts}}</td><td class="error">{{error}}</td><td>{{created}}</td>
        <td>{{#retryable}}<form method="post" action="/dashboard/notifications/jobs/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Retry</button></form>{{/retryable}}</td>
        </tr>
        {{/jobs}}
        {{^jobs}}<tr><td colspan="8">No jobs in this state.</td></tr>{{/jobs}}
        </tbody></table>
        </div>
        <h2>Receivers</h2>
        <div class="scroll">
        <table class="receivers"><thead><tr><th>Receiver</th><th>Kind</th><th>Last delivery</th><th>Last error</th><th>Sent</th><th>Failed attempts</th><th>Retried</th><th>Dead</th><th>Rescued</th><th></th></tr></thead>
        <tbody>
        {{#receivers}}
        <tr data-receiver="{{name}}"><td>{{name}}<div class="reason">{{url}}</div></td><td>{{kind}}</td><td>{{lastDelivered}}</td><td class="error">{{lastError}}</td>
        <td class="num">{{sent}}</td><td class="num">{{failed}}</td><td class="num">{{retried}}</td><td class="num">{{dead}}</td><td class="num">{{rescued}}</td>
        <td>{{#configured}}<form method="post" action="/dashboard/notifications/receivers/{{name}}/test"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Test</button></form>{{/configured}}
        {{#hasDead}}<form method="post" action="/dashboard/notifications/receivers/retry"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="receiver" value="{{name}}"><button type="submit">Retry dead</button></form>{{/hasDead}}</td></tr>
        {{/receivers}}
        {{^receivers}}<tr><td colspan="10">No receiver is configured.</td></tr>{{/receivers}}
        </tbody></table>
        </div>
        <h2>Routes</h2>
        <div class="scroll">
        <table class="routes"><thead><tr><th>Route</th><th>From</th><th>Matches</th><th>Receivers</th><th>Grouped by</th><th>Resolved</th></tr></thead>
        <tbody>
        {{#routes}}<tr data-route="{{id}}"><td>{{id}}</td><td>{{source}}</td><td>{{matches}}</td><td>{{receivers}}</td><td>{{groupBy}}</td><td>{{sendResolved}}</td></tr>{{/routes}}
        {{^routes}}<tr><td colspan="6">No route: no alert is sent anywhere.</td></tr>{{/routes}}
        </tbody></table>
        </div>
        """

    static let workers = """
        <h1>Workers</h1>
        <p><span class="badge {{status}}" data-status="{{status}}">{{status}}</span></p>
        {{#reasons}}<p class="reason">{{.}}</p>{{/reasons}}
        <ul class="counts">
        <li><span class="n">{{uptime}}</span> uptime</li>
        <li><span class="n" data-figure="completed">{{completed}}</span> delivered</li>
        <li><span class="n" data-figure="failed">{{failed}}</span> failed attempts</li>
        <li><span class="n" data-figure="rescues">{{rescues}}</span> rescues</li>
        <li><span class="n">{{errorRate}}</span> error rate</li>
        </ul>
        <p class="note">Counts over the last {{windowText}}, every worker's. Latency p50 {{p50}}, p95 {{p95}}. This process: {{worker}},
        {{held}} jobs held, last activity {{lastActivity}}, handles {{kinds}}.</p>
        <h2>Delivery latency, last hour</h2>
        {{{chart}}}
        <h2>Queue</h2>
        <ul class="counts">{{#queue}}<li><span class="n" data-depth="{{state}}">{{count}}</span> {{state}}</li>{{/queue}}</ul>
        <h2>Errors by receiver</h2>
        <div class="scroll">
        <table class="receivers"><thead><tr><th>Receiver</th><th>Sent</th><th>Failed attempts</th><th>Dead</th><th>Rescued</th></tr></thead>
        <tbody>
        {{#receivers}}<tr><td>{{name}}</td><td class="num">{{sent}}</td><td class="num">{{failed}}</td><td class="num">{{dead}}</td><td class="num">{{rescued}}</td></tr>{{/receivers}}
        {{^receivers}}<tr><td colspan="5">No receiver has had a job yet.</td></tr>{{/receivers}}
        </tbody></table>
        </div>
        """
}
