/**
 * TypeScript declarations of the Frontdesk browser SDK (frontdesk.js), checked
 * by `tsc --strict` in the test suite against a program that uses every export.
 */

/** Every failure: `code` is the server's stable code (protocol.js ERROR_CODES). */
export class FrontdeskError extends Error {
  constructor(code: string, message?: string, extra?: Record<string, unknown>);
  readonly name: "FrontdeskError";
  /**
   * token_expired, token_invalid, forbidden, meeting_not_found, meeting_ended,
   * unavailable, rate_limited, media_unavailable, ... and "origin_refused": this
   * page's origin is not in the node's FRONTDESK_ALLOWED_ORIGINS, or not among
   * the guest token's `origins`.
   */
  readonly code: string;
  /** A plain sentence for the person at the screen, with a next step (describeError). */
  readonly userMessage: string;
  /** HTTP status, for errors answered over HTTP. */
  readonly status?: number;
  /** With "origin_refused" from the node's CORS: the page's origin and the node's. */
  readonly origin?: string;
  readonly node?: string;
}

/** Who a visitor should turn to when no business name is known. */
export const DEFAULT_BUSINESS: string;
/** Every code a visitor can meet -> a plain sentence; `{business}` is the business's name. */
export const GUEST_MESSAGES: Readonly<Record<string, string>>;
/** The plain sentence for an error or a code, naming `business` where the visitor should turn. */
export function describeError(
  err: FrontdeskError | { code?: string } | string,
  opts?: { business?: string },
): string;

export type SessionState = "connecting" | "lobby" | "joined" | "reconnecting" | "left";
export type Role = "organizer" | "presenter" | "attendee" | "guest";

export interface Participant {
  id: string;
  display_name: string;
  role: Role | string;
  state?: string;
  /** Its video is a shared screen (show it large, whole, unmirrored). */
  screen_sharing?: boolean;
  [field: string]: unknown;
}

export interface LobbyEntry {
  participant_id: string;
  display_name: string;
  vouched?: boolean;
  timeout_at?: string | null;
  /** The helpdesk visit a visitor came for (its guest token's `visit` claim). */
  visit_id?: string;
  [field: string]: unknown;
}

export interface ChatMessage {
  seq: number;
  participant_id: string;
  display_name: string;
  text: string;
  at: string;
  [field: string]: unknown;
}

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface MeetingEvents {
  state: { state: SessionState; previous: SessionState };
  roster: Map<string, Participant>;
  lobby: LobbyEntry[];
  chat: ChatMessage;
  typing: { participant_id: string; typing: boolean };
  event: { seq: number; name: string; at: string; data: Record<string, unknown> };
  error: { code: string; message: string };
  left: { reason: string };
  reconnecting: { attempt: number; delayMs: number };
  localstream: MediaStream;
  track: { participantId: string; stream: MediaStream };
  trackended: { participantId: string };
  /** `by`: who changed it (a moderator who muted someone, or the participant itself). */
  media: { participantId: string; by: string | null; screen_sharing: boolean; [field: string]: unknown };
  screenshare: { sharing: boolean; track: MediaStreamTrack | null };
  mediacap: { participantId: string; max: number };
  /** Media moved (a mesh meeting in mode "auto" passed the mesh's cap: now "sfu"). */
  mediaroute: { route: "mesh" | "sfu" };
}

export interface StartMediaOptions {
  audio?: boolean;
  video?: boolean;
  audioMuted?: boolean;
  videoMuted?: boolean;
  audioDeviceId?: string;
  videoDeviceId?: string;
}

export class Meeting {
  readonly rtcUrl: string;
  readonly mediaEnabled: boolean;
  readonly state: SessionState;
  readonly participantId: string | null;
  readonly me: Participant | null;
  readonly roster: Map<string, Participant>;
  readonly lobby: LobbyEntry[];
  readonly lobbyPosition: number | null;
  readonly organizerPresent: boolean | null;
  readonly lobbyTimeoutAt: string | null;
  readonly chat: ChatMessage[];
  /** true once `loadOlder` reached the first message the meeting keeps. */
  readonly chatComplete: boolean;
  readonly leftReason: string | null;
  readonly iceServers: IceServer[];
  readonly localStream: MediaStream | null;
  readonly remoteStreams: Map<string, MediaStream>;
  readonly audioMuted: boolean;
  readonly videoMuted: boolean;

  /** Subscribe to an event; returns the function that unsubscribes. */
  on<K extends keyof MeetingEvents>(name: K, callback: (data: MeetingEvents[K]) => void): () => void;
  on(name: string, callback: (data: any) => void): () => void;

  /** Resolves once in the meeting (admitted from the lobby); rejects with the leave reason. */
  admitted(): Promise<Meeting>;
  /** Send a chat message; resolves with the stored message. */
  sendChat(text: string): Promise<ChatMessage>;
  setTyping(typing: boolean): void;
  /** Load older chat messages (50 at a time); resolves with those added. */
  loadOlder(limit?: number): Promise<ChatMessage[]>;

  startMedia(opts?: StartMediaOptions): Promise<MediaStream>;
  setAudioMuted(muted: boolean): Promise<void>;
  setVideoMuted(muted: boolean): Promise<void>;
  switchCamera(deviceId: string): Promise<void>;
  /** Whether this session sends a shared screen now. */
  readonly screenSharing: boolean;
  /** Send a screen, window or tab in the camera's place; the others see `screen_sharing`. */
  shareScreen(): Promise<MediaStreamTrack>;
  /** Stop sharing (the camera, if on, is sent again). Idempotent. */
  stopScreenShare(): Promise<void>;
  peerConnection(participantId: string): RTCPeerConnection | null;
  /** How media travels now: a peer-to-peer mesh or through the SFU. */
  readonly mediaRoute: "mesh" | "sfu";
  /** On the SFU: the participants whose media this page may receive. */
  readonly sfuFeeds: string[];
  /** On the SFU: the connection down from a feed (null: the one up). */
  sfuConnection(feed?: string | null): RTCPeerConnection | null;
  /** On the SFU: receive a feed's small (0), middle (1) or large (2) simulcast layer. */
  setSfuLayer(feed: string, substream: 0 | 1 | 2): Promise<unknown>;

  admit(participantId: string): Promise<unknown>;
  deny(participantId: string): Promise<unknown>;
  mute(participantId: string): Promise<unknown>;
  remove(participantId: string): Promise<unknown>;
  /** End the meeting for everyone (organizers). */
  end(): Promise<void>;
  /** Leave; idempotent. */
  leave(): Promise<void>;
}

/** Join with the join URL alone and a display name (may wait in the lobby). */
export function join(opts: {
  joinUrl: string;
  displayName: string;
  media?: boolean;
  /** The same key again (e.g. `tabKey()` after a reload) replaces the session left behind. */
  clientKey?: string;
}): Promise<Meeting>;

/** Join with the discovery URI and guest token a business back end obtained. */
export function joinWithToken(opts: {
  discoveryUri: string;
  token: string;
  media?: boolean;
  clientKey?: string;
}): Promise<Meeting>;

/** A random key kept by this browser tab (sessionStorage), for `clientKey`. */
export function tabKey(): string;

/** Join as a signed-in user (organizer or agent). */
export function joinAsUser(opts: {
  baseUrl: string;
  meetingId: string;
  sessionToken: string;
  media?: boolean;
}): Promise<Meeting>;

/** Sign in an agent (POST /v1/session). */
export function login(opts: { baseUrl: string; username: string; password: string }): Promise<{
  token: string;
  username: string;
  display_name: string;
  expires_at: string;
}>;

export function listDevices(): Promise<{
  audioinputs: MediaDeviceInfo[];
  videoinputs: MediaDeviceInfo[];
}>;

/** At most this many peer connections (a mesh of MAX_PEERS + 1 people with media). */
export const MAX_PEERS: number;

export const PROTOCOL: Readonly<{
  version: number;
  clientMessages: Readonly<Record<string, unknown>>;
  serverMessages: Readonly<Record<string, unknown>>;
}>;
