namespace Sark.Actors; public static class Placeholder {}
