export namespace app {
	
	export class Cell {
	    present: boolean;
	    size: number;
	    mtime: string;
	    content: string;
	    date: string;
	    accessIssue: boolean;
	
	    static createFrom(source: any = {}) {
	        return new Cell(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.present = source["present"];
	        this.size = source["size"];
	        this.mtime = source["mtime"];
	        this.content = source["content"];
	        this.date = source["date"];
	        this.accessIssue = source["accessIssue"];
	    }
	}
	export class FilterError {
	    pos: number;
	    end: number;
	    msg: string;
	
	    static createFrom(source: any = {}) {
	        return new FilterError(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.pos = source["pos"];
	        this.end = source["end"];
	        this.msg = source["msg"];
	    }
	}
	export class ItemAction {
	    op: string;
	    source: string;
	    targets: string[];
	    targeted: boolean;
	
	    static createFrom(source: any = {}) {
	        return new ItemAction(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.op = source["op"];
	        this.source = source["source"];
	        this.targets = source["targets"];
	        this.targeted = source["targeted"];
	    }
	}
	export class Item {
	    path: string;
	    kind: string;
	    cells: Record<string, Cell>;
	    actions: ItemAction[];
	
	    static createFrom(source: any = {}) {
	        return new Item(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.path = source["path"];
	        this.kind = source["kind"];
	        this.cells = this.convertValues(source["cells"], Cell, true);
	        this.actions = this.convertValues(source["actions"], ItemAction);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class ComparisonPage {
	    total: number;
	    offset: number;
	    items: Item[];
	    filterError?: FilterError;
	
	    static createFrom(source: any = {}) {
	        return new ComparisonPage(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.total = source["total"];
	        this.offset = source["offset"];
	        this.items = this.convertValues(source["items"], Item);
	        this.filterError = this.convertValues(source["filterError"], FilterError);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class ComparisonSummary {
	    total: number;
	    parts: string[];
	    withActions: number;
	
	    static createFrom(source: any = {}) {
	        return new ComparisonSummary(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.total = source["total"];
	        this.parts = source["parts"];
	        this.withActions = source["withActions"];
	    }
	}
	export class Conflict {
	    path: string;
	    winner: string;
	    kept: string[];
	
	    static createFrom(source: any = {}) {
	        return new Conflict(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.path = source["path"];
	        this.winner = source["winner"];
	        this.kept = source["kept"];
	    }
	}
	export class KeptVersions {
	    dir: string;
	    stamp: string;
	    keepDays: number;
	
	    static createFrom(source: any = {}) {
	        return new KeptVersions(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.dir = source["dir"];
	        this.stamp = source["stamp"];
	        this.keepDays = source["keepDays"];
	    }
	}
	export class Deletions {
	    part: string;
	    node: string;
	    root: string;
	    computer?: string;
	    deletes: number;
	    files: number;
	    emptySource?: string;
	    emptyRoot?: string;
	    emptyComputer?: string;
	    over: boolean;
	
	    static createFrom(source: any = {}) {
	        return new Deletions(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.part = source["part"];
	        this.node = source["node"];
	        this.root = source["root"];
	        this.computer = source["computer"];
	        this.deletes = source["deletes"];
	        this.files = source["files"];
	        this.emptySource = source["emptySource"];
	        this.emptyRoot = source["emptyRoot"];
	        this.emptyComputer = source["emptyComputer"];
	        this.over = source["over"];
	    }
	}
	export class Destination {
	    node: string;
	    copies: number;
	    creates: number;
	    deletes: number;
	    dates: number;
	    bytes: number;
	
	    static createFrom(source: any = {}) {
	        return new Destination(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.node = source["node"];
	        this.copies = source["copies"];
	        this.creates = source["creates"];
	        this.deletes = source["deletes"];
	        this.dates = source["dates"];
	        this.bytes = source["bytes"];
	    }
	}
	export class Confirmation {
	    actions: number;
	    bytes: number;
	    destinations: Destination[];
	    refused: number;
	    revision: number;
	    deletions: Deletions[];
	    deleteLimit: string;
	    overLimit: boolean;
	    replaces: number;
	    versions?: KeptVersions;
	    conflicts: Conflict[];
	
	    static createFrom(source: any = {}) {
	        return new Confirmation(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.actions = source["actions"];
	        this.bytes = source["bytes"];
	        this.destinations = this.convertValues(source["destinations"], Destination);
	        this.refused = source["refused"];
	        this.revision = source["revision"];
	        this.deletions = this.convertValues(source["deletions"], Deletions);
	        this.deleteLimit = source["deleteLimit"];
	        this.overLimit = source["overLimit"];
	        this.replaces = source["replaces"];
	        this.versions = this.convertValues(source["versions"], KeptVersions);
	        this.conflicts = this.convertValues(source["conflicts"], Conflict);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	
	
	
	
	
	
	export class ItemResult {
	    path: string;
	    op: string;
	    target: string;
	    ok: boolean;
	    error?: string;
	
	    static createFrom(source: any = {}) {
	        return new ItemResult(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.path = source["path"];
	        this.op = source["op"];
	        this.target = source["target"];
	        this.ok = source["ok"];
	        this.error = source["error"];
	    }
	}
	
	export class MemberSource {
	    code: string;
	    name: string;
	
	    static createFrom(source: any = {}) {
	        return new MemberSource(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.code = source["code"];
	        this.name = source["name"];
	    }
	}
	export class MemberNode {
	    code: string;
	    machine: string;
	    sources: MemberSource[];
	
	    static createFrom(source: any = {}) {
	        return new MemberNode(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.code = source["code"];
	        this.machine = source["machine"];
	        this.sources = this.convertValues(source["sources"], MemberSource);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class Member {
	    id: string;
	    letter: string;
	    status: string;
	    self: boolean;
	    present: boolean;
	    nodes: MemberNode[];
	
	    static createFrom(source: any = {}) {
	        return new Member(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.letter = source["letter"];
	        this.status = source["status"];
	        this.self = source["self"];
	        this.present = source["present"];
	        this.nodes = this.convertValues(source["nodes"], MemberNode);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	
	
	export class Source {
	    code: string;
	    path: string;
	    kind: string;
	
	    static createFrom(source: any = {}) {
	        return new Source(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.code = source["code"];
	        this.path = source["path"];
	        this.kind = source["kind"];
	    }
	}
	export class Node {
	    code: string;
	    member: string;
	    sources: Source[];
	
	    static createFrom(source: any = {}) {
	        return new Node(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.code = source["code"];
	        this.member = source["member"];
	        this.sources = this.convertValues(source["sources"], Source);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class ProfileEdit {
	    name: string;
	    preset: string;
	    maxDelete: string;
	    versions: string;
	    versionsKeep: number;
	
	    static createFrom(source: any = {}) {
	        return new ProfileEdit(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.name = source["name"];
	        this.preset = source["preset"];
	        this.maxDelete = source["maxDelete"];
	        this.versions = source["versions"];
	        this.versionsKeep = source["versionsKeep"];
	    }
	}
	export class ProfileRun {
	    at: string;
	    status: string;
	    actions: number;
	    errors: number;
	    bytes: number;
	    message?: string;
	
	    static createFrom(source: any = {}) {
	        return new ProfileRun(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.at = source["at"];
	        this.status = source["status"];
	        this.actions = source["actions"];
	        this.errors = source["errors"];
	        this.bytes = source["bytes"];
	        this.message = source["message"];
	    }
	}
	export class ProfileNode {
	    code: string;
	    sources: string[];
	
	    static createFrom(source: any = {}) {
	        return new ProfileNode(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.code = source["code"];
	        this.sources = source["sources"];
	    }
	}
	export class ProfileInfo {
	    name: string;
	    file: string;
	    nodes: ProfileNode[];
	    mode: string;
	    preset: string;
	    hasRules: boolean;
	    members: string[];
	    maxDelete: string;
	    versions: string;
	    versionsKeep: number;
	    created: string;
	    updated: string;
	    lastRun?: ProfileRun;
	    error?: string;
	
	    static createFrom(source: any = {}) {
	        return new ProfileInfo(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.name = source["name"];
	        this.file = source["file"];
	        this.nodes = this.convertValues(source["nodes"], ProfileNode);
	        this.mode = source["mode"];
	        this.preset = source["preset"];
	        this.hasRules = source["hasRules"];
	        this.members = source["members"];
	        this.maxDelete = source["maxDelete"];
	        this.versions = source["versions"];
	        this.versionsKeep = source["versionsKeep"];
	        this.created = source["created"];
	        this.updated = source["updated"];
	        this.lastRun = this.convertValues(source["lastRun"], ProfileRun);
	        this.error = source["error"];
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class ProfileInvitation {
	    profile: string;
	    from: string;
	
	    static createFrom(source: any = {}) {
	        return new ProfileInvitation(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.profile = source["profile"];
	        this.from = source["from"];
	    }
	}
	
	
	export class Progress {
	    totalActions: number;
	    finishedActions: number;
	    errorActions: number;
	    syncedVolume: number;
	    totalVolume: number;
	
	    static createFrom(source: any = {}) {
	        return new Progress(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.totalActions = source["totalActions"];
	        this.finishedActions = source["finishedActions"];
	        this.errorActions = source["errorActions"];
	        this.syncedVolume = source["syncedVolume"];
	        this.totalVolume = source["totalVolume"];
	    }
	}
	export class RuleError {
	    line: number;
	    msg: string;
	
	    static createFrom(source: any = {}) {
	        return new RuleError(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.line = source["line"];
	        this.msg = source["msg"];
	    }
	}
	export class RulesState {
	    mode: string;
	    text: string;
	    presets: string[];
	    errors: RuleError[];
	    groups: number;
	
	    static createFrom(source: any = {}) {
	        return new RulesState(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.mode = source["mode"];
	        this.text = source["text"];
	        this.presets = source["presets"];
	        this.errors = this.convertValues(source["errors"], RuleError);
	        this.groups = source["groups"];
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class SessionInfo {
	    id: string;
	    password: string;
	    serverURL: string;
	    embedded: boolean;
	    self: string;
	    members: Member[];
	
	    static createFrom(source: any = {}) {
	        return new SessionInfo(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.password = source["password"];
	        this.serverURL = source["serverURL"];
	        this.embedded = source["embedded"];
	        this.self = source["self"];
	        this.members = this.convertValues(source["members"], Member);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	
	export class SyncStatus {
	    state: string;
	    orchestration: string;
	    progress: Progress;
	    endStatus?: string;
	    endReason?: string;
	    errors: string[];
	    items: ItemResult[];
	    omittedItems: number;
	
	    static createFrom(source: any = {}) {
	        return new SyncStatus(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.state = source["state"];
	        this.orchestration = source["orchestration"];
	        this.progress = this.convertValues(source["progress"], Progress);
	        this.endStatus = source["endStatus"];
	        this.endReason = source["endReason"];
	        this.errors = source["errors"];
	        this.items = this.convertValues(source["items"], ItemResult);
	        this.omittedItems = source["omittedItems"];
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class UserSettings {
	    serverURL: string;
	    theme: string;
	    maxDelete: string;
	    versions: string;
	    versionsKeep: number;
	    includeHidden: boolean;
	
	    static createFrom(source: any = {}) {
	        return new UserSettings(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.serverURL = source["serverURL"];
	        this.theme = source["theme"];
	        this.maxDelete = source["maxDelete"];
	        this.versions = source["versions"];
	        this.versionsKeep = source["versionsKeep"];
	        this.includeHidden = source["includeHidden"];
	    }
	}

}

