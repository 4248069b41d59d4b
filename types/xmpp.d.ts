/**
 * Hand-written declarations for the parts of xmpp.js 0.13 (and its ltx elements) that Junction
 * uses. The packages ship no types; keep this to what the code actually calls.
 */
declare module "@xmpp/xml" {
  export type Node = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: Node[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildByAttr(attr: string, val: string, xmlns?: string, recursive?: boolean): Element | undefined;
    getText(): string;
    getChildText(name: string, xmlns?: string): string | null;
    c(name: string, attrs?: Record<string, string | number | undefined>): Element;
    t(text: string): Element;
    up(): Element;
    root(): Element;
    append(...nodes: Node[]): Element;
    prepend(...nodes: Node[]): Element;
    remove(el: Element | string, xmlns?: string): Element;
    text(val?: string): string;
    attr(name: string, val?: string): string | undefined;
    toString(): string;
  }
  type Child = Node | null | undefined | false | readonly Child[];
  function xml(name: string, attrs?: Record<string, string | number | undefined> | null, ...children: Child[]): Element;
  namespace xml {
    export { Element };
    export function escapeXML(s: string): string;
    export function escapeXMLText(s: string): string;
    export class XMLError extends Error {}
  }
  export default xml;
}

declare module "@xmpp/xml/lib/parse.js" {
  import type { Element } from "@xmpp/xml";
  function parse(data: string): Element;
  export default parse;
}

declare module "@xmpp/jid" {
  export class JID {
    constructor(local: string | undefined, domain: string, resource?: string);
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(unescape?: boolean): string;
    equals(other: JID): boolean;
    getLocal(unescape?: boolean): string;
    getDomain(): string;
    getResource(): string;
  }
  function jid(address: string): JID;
  function jid(local: string | undefined, domain: string, resource?: string): JID;
  namespace jid {
    export { JID };
    export function parse(address: string): JID;
    export function escapeLocal(local: string): string;
    export function unescapeLocal(local: string): string;
    export function detectEscape(local: string): boolean;
  }
  export default jid;
}

declare module "@xmpp/events" {
  export class EventEmitter {
    on(event: string, listener: (...args: any[]) => void): this;
    once(event: string, listener: (...args: any[]) => void): this;
    off(event: string, listener: (...args: any[]) => void): this;
    removeListener(event: string, listener: (...args: any[]) => void): this;
    removeAllListeners(event?: string): this;
    emit(event: string, ...args: unknown[]): boolean;
  }
}

declare module "@xmpp/xmpp-entity" {
  import type { Element } from "@xmpp/xml";
  import type { JID } from "@xmpp/jid";
  import type { EventEmitter } from "@xmpp/events";
  export type Status =
    | "offline" | "connecting" | "connect" | "opening" | "open" | "online"
    | "closing" | "close" | "disconnecting" | "disconnect";
  export interface IqCaller {
    request(stanza: Element, timeout?: number): Promise<Element>;
    get(element: Element, to?: string, timeout?: number): Promise<Element>;
    set(element: Element, to?: string, timeout?: number): Promise<Element>;
  }
  export interface Reconnect extends EventEmitter {
    delay: number;
    start(): void;
    stop(): void;
    reconnect(): Promise<void>;
  }
  export interface Entity extends EventEmitter {
    status: Status;
    jid: JID | null;
    socket: { write(data: string, cb: (err?: Error) => void): void; setNoDelay?(v: boolean): void } | null;
    options: Record<string, unknown>;
    timeout: number;
    start(): Promise<JID>;
    stop(): Promise<void>;
    disconnect(timeout?: number): Promise<void>;
    send(...elements: Element[]): Promise<void>;
    sendMany(elements: Element[]): Promise<void>;
    write(data: string): Promise<void>;
    reconnect: Reconnect;
    iqCaller: IqCaller;
    middleware: { use(fn: (ctx: { stanza: Element }, next: () => unknown) => unknown): void; filter(fn: (ctx: { stanza: Element }, next: () => unknown) => unknown): void };
    iqCallee: {
      get(ns: string, name: string, handler: (ctx: { stanza: Element; element: Element }) => unknown): void;
      set(ns: string, name: string, handler: (ctx: { stanza: Element; element: Element }) => unknown): void;
    };
  }
}

declare module "@xmpp/component" {
  import type { Entity } from "@xmpp/xmpp-entity";
  import xml from "@xmpp/xml";
  import jid from "@xmpp/jid";
  export function component(options: { service: string; domain: string; password: string }): Entity;
  export { xml, jid };
}

declare module "@xmpp/client" {
  import type { Entity } from "@xmpp/xmpp-entity";
  import xml from "@xmpp/xml";
  import jid from "@xmpp/jid";
  export function client(options: {
    service: string; domain?: string; resource?: string; username?: string; password?: string;
    credentials?: unknown;
  }): Entity;
  export { xml, jid };
}

declare module "@xmpp/component-core" {
  import type { Entity } from "@xmpp/xmpp-entity";
  import type { Element } from "@xmpp/xml";
  export class Component {
    constructor(options: { service: string; domain: string });
    authenticate(id: string, password: string): Promise<void>;
  }
  export interface Component extends Omit<Entity, "reconnect" | "iqCaller" | "iqCallee" | "middleware"> {
    on(event: "open", listener: (el: Element) => void): this;
    on(event: "stanza", listener: (el: Element) => void): this;
    on(event: string, listener: (...args: any[]) => void): this;
  }
}
