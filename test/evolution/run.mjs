// run.mjs drives n8n's most installed WhatsApp node, the community package
// n8n-nodes-evolution-api, against a meowgate serving the Evolution API
// compatibility (`[compat] evolution = true`) in sandbox mode. It loads the
// node as n8n loads a community node (the package.json "n8n.nodes" entry),
// fills its parameters as n8n's Workflow does (defaults from the node's own
// description, through n8n-workflow's NodeHelpers) and calls its execute()
// with a stand-in for n8n's IExecuteFunctions. The stand-in implements only
// what the node calls (read dist/nodes/EvolutionApi/execute/*.js); anything
// else it reaches for fails loudly, so a new package version that needs more
// shows up here instead of passing by accident.
//
// Environment: MEOWGATE_URL (http://127.0.0.1:port) and MEOWGATE_ADMIN_KEY.
// Exit status 0 when the whole scenario passed; the log says which step
// failed otherwise.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { NodeHelpers } = require('n8n-workflow');

const baseURL = (process.env.MEOWGATE_URL || '').replace(/\/+$/, '');
const adminKey = process.env.MEOWGATE_ADMIN_KEY || '';
if (!baseURL || !adminKey) {
	console.error('run.mjs: set MEOWGATE_URL and MEOWGATE_ADMIN_KEY');
	process.exit(2);
}

const instanceName = 'n8n-shop';
const ownPhone = '+4915112340013'; // the simulated phone that scans the QR
const contact = '+4915199990013'; // the customer the workflow writes to
const contactDigits = contact.slice(1); // how n8n users write numbers
const contactJid = `${contactDigits}@s.whatsapp.net`;

// log prints a step; a line equal to the one before (a poll that did not
// change) is counted instead of printed again.
const started = Date.now();
let lastLine = '';
let repeats = 0;
function log(...args) {
	const line = args.join(' ');
	if (line === lastLine) {
		repeats++;
		return;
	}
	if (repeats > 0) console.log(`  … ${repeats} more the same`);
	lastLine = line;
	repeats = 0;
	console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s]`, line);
}

// step names the part of the scenario running, for the failure message.
let step = 'start';
function begin(name) {
	step = name;
	log(`== ${name}`);
}

function check(cond, what, got) {
	if (!cond) {
		const err = new Error(`${what}${got === undefined ? '' : `; got ${JSON.stringify(got)}`}`);
		err.isCheck = true;
		throw err;
	}
}

// ---- the node, loaded as n8n loads a community package ----

const pkgPath = require.resolve('n8n-nodes-evolution-api/package.json');
const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'));
const nodeFile = pkg.n8n.nodes.find((p) => p.includes('EvolutionApi'));
const { EvolutionApi } = require(path.join(path.dirname(pkgPath), nodeFile));
const credFile = pkg.n8n.credentials.find((p) => p.includes('EvolutionApi'));
const { EvolutionApi: EvolutionApiCredentials } = require(path.join(path.dirname(pkgPath), credFile));
const nodeType = new EvolutionApi();
const description = nodeType.description;
log(`loaded ${pkg.name}@${pkg.version} (${description.properties.length} properties)`);

// ---- the stand-in for n8n's IExecuteFunctions ----

// n8n's helpers.request: the request-promise style options the node passes
// ({method, uri, body, json, headers, qs}), the parsed body back, and an
// error for a non-2xx answer whose message is "<status> - <body>" with
// statusCode and error (the parsed body) on it, as n8n-core reports it.
async function request(opts) {
	const url = new URL(opts.uri || opts.url);
	for (const [k, v] of Object.entries(opts.qs || {})) url.searchParams.set(k, String(v));
	const headers = { ...(opts.headers || {}) };
	let body;
	if (opts.body !== undefined && opts.method !== 'GET') {
		body = opts.json && typeof opts.body !== 'string' ? JSON.stringify(opts.body) : opts.body;
		if (opts.json && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
			headers['Content-Type'] = 'application/json';
		}
	}
	if (opts.json) headers.Accept = headers.Accept || 'application/json';
	const res = await fetch(url, {
		method: opts.method || 'GET',
		headers,
		body,
		signal: AbortSignal.timeout(60_000),
	});
	const text = await res.text();
	let parsed = text;
	if (opts.json && text !== '') {
		try {
			parsed = JSON.parse(text);
		} catch {
			// n8n hands a non-JSON body back as the string it is
		}
	}
	log(`  ${opts.method || 'GET'} ${url.pathname}${url.search} → ${res.status} ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
	if (res.status < 200 || res.status > 299) {
		const err = new Error(`${res.status} - ${JSON.stringify(parsed)}`);
		err.statusCode = res.status;
		err.isHTTP = true;
		err.error = parsed;
		throw err;
	}
	return parsed;
}

// returnJsonArray as n8n-core has it: wrap each entry in {json} unless it
// is already wrapped.
function returnJsonArray(data) {
	return (Array.isArray(data) ? data : [data]).map((d) => (d?.json ? { ...d, json: d.json } : { json: d }));
}

function strict(name, obj) {
	return new Proxy(obj, {
		get(target, prop, receiver) {
			if (typeof prop === 'symbol' || prop === 'then' || prop in target) return Reflect.get(target, prop, receiver);
			throw new Error(`the node called ${name}.${prop}, which this stand-in for n8n does not implement`);
		},
	});
}

function executeContext(parameters, credentials) {
	const node = {
		id: crypto.randomUUID(),
		name: 'Evolution API',
		type: 'n8n-nodes-evolution-api.evolutionApi',
		typeVersion: 1,
		position: [0, 0],
		parameters,
		credentials: { evolutionApi: { id: '1', name: 'meowgate' } },
	};
	return strict('this', {
		getNode: () => node,
		getInputData: () => [{ json: {} }],
		continueOnFail: () => false,
		// n8n-core: lodash get on the node's parameters, the fallback when
		// absent, and "Could not get parameter" when there is neither.
		getNodeParameter(name, itemIndex, fallback) {
			let v = parameters;
			for (const part of name.split('.')) v = v == null ? undefined : v[part];
			if (v === undefined) v = fallback;
			if (v === undefined) throw new Error(`Could not get parameter "${name}"`);
			return v;
		},
		async getCredentials(type) {
			if (type !== 'evolutionApi') throw new Error(`unexpected credential type ${type}`);
			return { ...credentials };
		},
		helpers: strict('this.helpers', { request, returnJsonArray }),
	});
}

// execute runs one node execution the way n8n's Workflow does: parameters
// completed with the description's defaults, refused when n8n would show a
// parameter issue, then execute() with `this` bound to the context.
async function execute(params, apikey = adminKey) {
	const full = NodeHelpers.getNodeParameters(description.properties, params, true, false, { typeVersion: 1 }, description);
	const dropped = Object.keys(params).filter((k) => !(k in full));
	check(dropped.length === 0, `n8n would drop parameters this operation does not show: ${dropped}`);
	const issues = NodeHelpers.getNodeParametersIssues(description.properties, { parameters: full, typeVersion: 1 }, description);
	check(issues === null, `n8n would refuse these parameters: ${JSON.stringify(issues)}`);
	log(`${params.resource} / ${params.operation}`);
	const out = await nodeType.execute.call(executeContext(full, { 'server-url': baseURL, apikey }));
	check(Array.isArray(out) && out.length === 1 && Array.isArray(out[0]), 'execute() returns one output of items', out);
	const items = out[0].map((i) => i.json);
	for (const it of items) check(it.success === true, `${params.operation} reports success`, it);
	return items.length === 1 ? items[0].data : items.map((i) => i.data);
}

// expectFailure runs execute and wants the node to throw, as n8n shows a
// failed node, with the given HTTP status in the message.
async function expectFailure(params, status) {
	try {
		await execute(params);
	} catch (err) {
		if (err.isCheck) throw err;
		const text = `${err.message} ${err.description || ''}`;
		check(text.includes(String(status)), `${params.operation} fails with ${status}`, text);
		log(`  failed as expected: ${text}`);
		return;
	}
	check(false, `${params.operation} should have failed with ${status}`);
}

// ---- helpers outside the node: meowgate's sandbox plays the phones ----

async function meowgate(method, p, body) {
	const res = await fetch(baseURL + p, {
		method,
		headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: AbortSignal.timeout(60_000),
	});
	const text = await res.text();
	log(`  (meowgate) ${method} ${p} → ${res.status} ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
	let parsed = null;
	try {
		parsed = text ? JSON.parse(text) : null;
	} catch {
		parsed = text;
	}
	return { status: res.status, body: parsed };
}

async function eventually(what, fn, timeoutMs = 30_000) {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		last = await fn();
		if (last.ok) return last.value;
		if (Date.now() > deadline) check(false, `timed out waiting until ${what}`, last.value);
		await new Promise((r) => setTimeout(r, 250));
	}
}

// A real 64×48 JPEG (a gradient): n8n's "Send Image" always declares
// image/jpeg and image.jpg (it has no mimetype or file name parameter).
const jpeg = Buffer.from(
	'/9j/2wCEAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNywtQFdBRkxOUlNSMj5aYVpQYEpRUk8BDg4O' +
	'ExETJhUVJk81LTVPT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT//AABEIADAAQAMBIgAC' +
	'EQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQy' +
	'gZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeI' +
	'iYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEB' +
	'AQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEK' +
	'FiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Sl' +
	'pqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEAAhEDEQA/AOCWL2qZYvarKxe1' +
	'SrF7V7cqhjSqldYvapli9qsLF7VMsXtWMqh6VKqV1i9qmWL2qwsXtUyxe1YSqHpUqpWWL2qZYvarKxe1TLF7VjKoenSqmIsXtUyx' +
	'e1WFi9qmWL2rSVQ/NaVUrrF7VMsXtVhYvapli9qwlUPSpVSusXtUqxe1WVi9qmWL2rGVQ9KlVKyxe1TLF7VZWL2qZYvasZVD0qVU' +
	'xFi9qmWL2qwsXtUyxe1XKofmtKqV1i9qmWL2qwsXtUyxe1YyqHp0qpXWL2qVYvarKxe1TLF7VjKoelSqlZYvapli9qsrF7VMsXtW' +
	'Mqh6VKqf/9k=',
	'base64',
);

// ---- the webhook receiver, where n8n's Webhook node would listen ----

function startReceiver() {
	const received = [];
	const server = http.createServer((req, res) => {
		let data = '';
		req.on('data', (c) => (data += c));
		req.on('end', () => {
			let body = null;
			try {
				body = JSON.parse(data);
			} catch {
				body = data;
			}
			received.push({ path: req.url, method: req.method, contentType: req.headers['content-type'], body });
			log(`  (receiver) ${req.method} ${req.url} ${data.length > 300 ? `${data.slice(0, 300)}…` : data}`);
			res.writeHead(200, { 'Content-Type': 'application/json' });
			res.end('{"ok":true}');
		});
	});
	return new Promise((resolve) => {
		server.listen(0, '127.0.0.1', () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}` }));
	});
}

// ---- the scenario ----

async function scenario(receiver) {
	const inst = { resource: 'instances-api', instanceName };

	// Saving the credential in n8n runs its test request first.
	// Its url is an n8n expression that picks /instance/fetchInstances for
	// a server url without a trailing slash, which is what we pass.
	const test = new EvolutionApiCredentials().test.request;
	check(test.method === 'GET' && test.url.includes('/instance/fetchInstances'), 'the credential tests with fetchInstances', test);
	begin('credential test');
	await request({ method: 'GET', uri: `${baseURL}/instance/fetchInstances`, headers: { apikey: adminKey }, json: true });

	// 1. Create.
	begin('create');
	const created = await execute({ ...inst, operation: 'instance-basic' });
	check(created?.instance?.instanceName === instanceName, 'create answers instance.instanceName', created);
	check(typeof created.instance.status === 'string', 'create answers instance.status', created);
	const hash = typeof created.hash === 'string' ? created.hash : created.hash?.apikey;
	check(typeof hash === 'string' && hash.length > 0, 'create answers the instance token as hash', created);
	await expectFailure({ ...inst, operation: 'instance-basic' }, 403);

	// 2. Connect: the QR code, as Evolution gives it.
	begin('connect (QR)');
	const qr = await execute({ ...inst, operation: 'instance-connect' });
	check(typeof qr?.code === 'string' && qr.code.length > 20, 'connect answers the QR payload as code', qr);
	check(typeof qr.base64 === 'string' && qr.base64.startsWith('data:image/png;base64,'), 'connect answers base64 as a PNG data URL', qr);
	check(Buffer.from(qr.base64.split(',')[1], 'base64').subarray(1, 4).toString() === 'PNG', 'base64 holds a PNG');
	check(typeof qr.count === 'number', 'connect answers count', qr);

	// 3. The phone scans it (the sandbox plays the phone).
	begin('link through the sandbox');
	const scan = await meowgate('POST', `/v1/sandbox/instances/${instanceName}/scan`, { phone: ownPhone });
	check(scan.status === 200, 'the sandbox phone scans the QR', scan);

	// 4. Fetch instances until it is open, as a workflow polling it would.
	begin('fetch instances');
	const fetchParams = { ...inst, operation: 'fetch-instances' };
	const row = await eventually('fetchInstances says open', async () => {
		const list = await execute(fetchParams);
		const all = Array.isArray(list) ? list : [list];
		const r = all.find((i) => i?.name === instanceName);
		return { ok: r?.connectionStatus === 'open', value: r ?? list };
	});
	// Evolution stores the account without the device (wuid: user.id with
	// ":<device>" stripped), and workflows compare it with a number.
	check(row.ownerJid === `${ownPhone.slice(1)}@s.whatsapp.net`, 'fetchInstances answers ownerJid as <number>@s.whatsapp.net', row);

	// 5. Set the webhook (and read it back).
	begin('set webhook');
	const hookURL = `${receiver.url}/n8n-webhook`;
	const hook = {
		resource: 'events-api',
		operation: 'webhook',
		instanceName,
		resourceForWebhook: 'setWebhook',
		enabled: true,
		webhookUrl: hookURL,
		webhookByEvents: false,
		webhookBase64: false,
		webhookEvents: ['MESSAGES_UPSERT'],
	};
	const set = await execute(hook);
	check(set && typeof set === 'object', 'webhook/set answers an object', set);
	const found = await execute({ resource: 'events-api', operation: 'webhook', instanceName, resourceForWebhook: 'findWebhook' });
	check(found?.url === hookURL && found.enabled === true, 'webhook/find answers the url, enabled', found);
	check(Array.isArray(found.events) && found.events.includes('MESSAGES_UPSERT'), 'webhook/find answers the events', found);

	// 6. Send a text, with the instance's own token as the credential.
	begin('send text');
	const text = `Your order #4711 shipped ${crypto.randomBytes(3).toString('hex')}`;
	const sentText = await execute(
		{ resource: 'messages-api', operation: 'send-text', instanceName, remoteJid: contactDigits, messageText: text },
		hash,
	);
	check(typeof sentText?.key?.id === 'string' && sentText.key.id !== '', 'sendText answers key.id', sentText);
	check(sentText.key.fromMe === true && sentText.key.remoteJid === contactJid, 'sendText answers key.fromMe, key.remoteJid', sentText);
	check(sentText.status === 'PENDING', 'sendText answers status PENDING', sentText);

	// 7. Send an image (base64, as a workflow passing a binary along does).
	begin('send image');
	const imageSHA = crypto.createHash('sha256').update(jpeg).digest('hex');
	const caption = 'Your parcel at the door';
	const sentImage = await execute({
		resource: 'messages-api',
		operation: 'send-image',
		instanceName,
		remoteJid: contactDigits,
		media: jpeg.toString('base64'),
		caption,
	});
	check(typeof sentImage?.key?.id === 'string' && sentImage.key.id !== sentText.key.id, 'sendMedia answers its own key.id', sentImage);
	check(sentImage.key.remoteJid === contactJid, 'sendMedia answers key.remoteJid', sentImage);

	// 8. The contact's phone has both, the image decrypted and intact.
	begin('contact inbox');
	await eventually('the contact received the text and the image', async () => {
		const inbox = await meowgate('GET', `/v1/sandbox/contacts/${encodeURIComponent(contact)}/inbox`);
		const msgs = inbox.body?.messages || [];
		const t = msgs.find((m) => m.id === sentText.key.id);
		const i = msgs.find((m) => m.id === sentImage.key.id);
		const ok =
			t?.text === text &&
			i?.type === 'image' &&
			i.sha256 === imageSHA &&
			i.caption === caption &&
			i.mimetype === 'image/jpeg';
		return { ok, value: msgs };
	});

	// 9. The customer writes back: Evolution's messages.upsert at the receiver.
	begin('receive (messages.upsert)');
	const reply = `Thanks, got it ${crypto.randomBytes(3).toString('hex')}`;
	const inc = await meowgate('POST', `/v1/sandbox/instances/${instanceName}/incoming`, { from: contact, type: 'text', text: reply });
	check(inc.status === 202, 'the sandbox contact sends a message', inc);
	const upsert = await eventually('messages.upsert reached the receiver', async () => {
		const d = receiver.received.find((r) => r.body?.event === 'messages.upsert' && r.body?.data?.key?.id === inc.body.id);
		return { ok: !!d, value: d ?? receiver.received };
	});
	check(upsert.method === 'POST' && upsert.path === '/n8n-webhook', 'delivered by POST to the url (webhookByEvents false)', upsert);
	const ev = upsert.body;
	check(ev.instance === instanceName, 'messages.upsert names the instance', ev);
	check(ev.destination === hookURL, 'messages.upsert carries destination', ev);
	for (const k of ['date_time', 'server_url']) check(typeof ev[k] === 'string', `messages.upsert carries ${k}`, ev);
	// sender is the instance's wuid (no device); apikey the instance token,
	// or null unless Evolution exposes tokens (AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES).
	check(ev.sender === `${ownPhone.slice(1)}@s.whatsapp.net`, 'messages.upsert carries sender, the instance number', ev);
	check('apikey' in ev && (ev.apikey === null || typeof ev.apikey === 'string'), 'messages.upsert carries apikey (string or null)', ev);
	const key = ev.data.key;
	check(key.fromMe === false, 'data.key.fromMe is false', key);
	check([key.remoteJid, key.remoteJidAlt, key.senderPn].includes(contactJid), `data.key names the sender ${contactJid}`, key);
	const msg = ev.data.message || {};
	check((msg.conversation ?? msg.extendedTextMessage?.text) === reply, 'data.message holds the text', ev.data);
	check(typeof ev.data.messageType === 'string' && ev.data.messageTimestamp !== undefined, 'data has messageType, messageTimestamp', ev.data);
	const others = receiver.received.filter((r) => r.body?.event !== 'messages.upsert');
	check(others.length === 0, 'only the subscribed event (MESSAGES_UPSERT) was delivered', others.map((r) => r.body?.event));

	// 10. Log out: the instance is closed, still listed.
	begin('logout');
	await execute({ ...inst, operation: 'logout-instance' });
	await eventually('fetchInstances says close', async () => {
		const list = await execute(fetchParams);
		const r = (Array.isArray(list) ? list : [list]).find((i) => i?.name === instanceName);
		return { ok: r?.connectionStatus === 'close', value: r ?? list };
	});

	// 11. Delete: gone from Evolution's list and from meowgate.
	begin('delete');
	await execute({ ...inst, operation: 'delete-instance' });
	const rest = await execute({ ...inst, operation: 'fetch-instances', instanceName: '' });
	const names = (Array.isArray(rest) ? rest : [rest]).map((i) => i?.name);
	check(!names.includes(instanceName), 'the deleted instance is not listed', names);
	const gone = await meowgate('GET', `/v1/instances/${instanceName}`);
	check(gone.status === 404, 'meowgate no longer has the instance', gone);
}

const receiver = await startReceiver();
let code = 0;
try {
	await scenario(receiver);
	log('PASS: the n8n Evolution node ran the whole scenario');
} catch (err) {
	code = 1;
	console.error(`FAIL at "${step}": ${err.message}${err.description ? `\n  ${err.description}` : ''}`);
	if (!err.isCheck && !err.isHTTP && err.name !== 'NodeOperationError') console.error(err.stack);
} finally {
	receiver.server.close();
}
process.exit(code);
